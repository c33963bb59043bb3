"""A deliberately faulty backend, `broken-test`, that the conformance suite must catch.

A small big-endian NumPy state vector with finite shots, written only against the
public contract. The option `fault` says what is wrong with it:

- "endianness" (the default): returns probabilities little-endian while declaring qubit_ordering='big';
- "rx-sign": applies RX(-theta) where RX(theta) is asked for;
- "per-row-weights": uses the first row's weights for every row of a [batch, n_weights] call;
- "unseeded": samples shots from an unseeded generator, ignoring `seed`;
- "none": nothing; with `coupling_map` and `routes` it exercises the suite's coupling-map checks.

Its other options set what it declares: `max_qubits`, `max_batch`, `coupling_map`, `routes`, `native_gates`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from qwthn import GATES, Capabilities, Circuit, QuantumBackend, hookimpl

Fault = Literal["none", "endianness", "rx-sign", "per-row-weights", "unseeded"]


class BrokenOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fault: Fault = "endianness"
    max_qubits: int = Field(default=6, ge=1, le=12)
    max_batch: int | None = Field(default=3, ge=1)
    coupling_map: list[tuple[int, int]] | None = None
    routes: bool = False
    native_gates: list[str] = Field(default_factory=lambda: sorted(set(GATES) - {"CRY"}))
    declare_noise: bool = False


class BrokenBackend(QuantumBackend):
    name = "broken-test"
    description = "deliberately faulty NumPy state vector that the conformance suite must fail"
    Options = BrokenOptions

    @property
    def capabilities(self) -> Capabilities:
        options = self.options
        coupling = frozenset(map(tuple, options.coupling_map)) if options.coupling_map is not None else None
        return Capabilities(
            max_qubits=options.max_qubits,
            native_gates=frozenset(options.native_gates),
            gradient="parameter-shift",
            supports_shots=True,
            qubit_ordering="big",
            coupling_map=coupling,
            routes=options.routes,
            max_batch=options.max_batch,
            supports_noise=options.declare_noise,
        )

    def compile(self, circuit: Circuit) -> Circuit:
        return circuit

    def _state(self, circuit: Circuit, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        n = circuit.n_qubits
        state = np.zeros([2] * n, dtype=complex)
        state[(0,) * n] = 1.0
        for gate in circuit.gates:
            angle = 0.0
            if gate.angle is not None:
                angle = {"const": gate.angle.value, "input": None, "weight": None}[gate.angle.source]
                if angle is None:
                    angle = (inputs if gate.angle.source == "input" else weights)[gate.angle.index]
            if self.options.fault == "rx-sign" and gate.name == "RX":
                angle = -angle
            k = len(gate.wires)
            matrix = gate.spec.matrix(float(angle)).reshape([2] * (2 * k))
            state = np.tensordot(matrix, state, axes=(list(range(k, 2 * k)), list(gate.wires)))
            state = np.moveaxis(state, list(range(k)), list(gate.wires))
        return state.reshape(-1)

    def evaluate(self, compiled, inputs, weights, *, shots=None, seed=None):
        circuit, fault = compiled, self.options.fault
        x = inputs.detach().cpu().double().numpy()
        w = weights.detach().cpu().double().numpy()
        if w.ndim == 2 and fault == "per-row-weights":
            w = np.broadcast_to(w[:1], w.shape)
        probs = np.array([np.abs(self._state(circuit, x[b], w if w.ndim == 1 else w[b])) ** 2 for b in range(len(x))])
        probs = probs.reshape(len(x), 2**circuit.n_qubits)
        if shots is not None:
            generator = np.random.default_rng(None if fault == "unseeded" else seed)
            probs = np.array([generator.multinomial(shots, row / row.sum()) / shots for row in probs])
        n = circuit.n_qubits
        if circuit.readout.kind == "probs":
            if fault == "endianness":
                probs = probs[:, [int(f"{i:0{n}b}"[::-1], 2) for i in range(2**n)]]
            out = probs
        else:
            index = np.arange(2**n)
            out = np.stack([probs @ (1 - 2 * ((index >> (n - 1 - wire)) & 1)) for wire in circuit.readout.wires], 1)
        return torch.tensor(out, dtype=inputs.dtype, device=inputs.device)


@hookimpl
def qwthn_register_backends(register):
    register(BrokenBackend)
