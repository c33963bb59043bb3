"""A third-party-style backend written only against the public contract.

A tiny NumPy state-vector simulator that numbers qubits little-endian (as
Qiskit does), executes every gate of the gate table, and is NOT differentiable
in torch, so using it exercises the core's capability checks, endianness
reordering and parameter-shift rule (four-term for controlled rotations).
`max_batch`, `coupling_map` and `native_gates` are options, so the runtime's chunking, coupling checks and
gate lowering are exercised too.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from qwthn import GATES, Capabilities, Circuit, QuantumBackend, hookimpl


class NumpyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_qubits: int = Field(default=10, ge=1, le=14)
    max_batch: int | None = Field(default=None, ge=1)
    coupling_map: list[tuple[int, int]] | None = None
    native_gates: list[str] | None = None


class NumpyBackend(QuantumBackend):
    name = "numpy-test"
    description = "little-endian NumPy state vector used by the test suite"
    Options = NumpyOptions

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_qubits=self.options.max_qubits,
            native_gates=frozenset(self.options.native_gates or GATES),
            gradient="parameter-shift",
            supports_shots=False,
            qubit_ordering="little",
            max_batch=self.options.max_batch,
            coupling_map=frozenset(map(tuple, self.options.coupling_map)) if self.options.coupling_map else None,
        )

    def compile(self, circuit: Circuit) -> Circuit:
        return circuit

    @staticmethod
    def _apply(state: np.ndarray, matrix: np.ndarray, wires: tuple[int, ...], n: int) -> np.ndarray:
        axes = [n - 1 - wire for wire in wires]  # little-endian: qubit 0 is the last tensor axis
        tensor = np.moveaxis(state.reshape([2] * n), axes, list(range(len(wires))))
        shape = tensor.shape
        tensor = (matrix @ tensor.reshape(2 ** len(wires), -1)).reshape(shape)
        return np.moveaxis(tensor, list(range(len(wires))), axes).reshape(-1)

    def _run_one(self, circuit: Circuit, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        n = circuit.n_qubits
        state = np.zeros(2**n, dtype=complex)
        state[0] = 1
        for gate in circuit.gates:
            angle = 0.0
            if gate.angle is not None:
                source = {"const": None, "input": inputs, "weight": weights}[gate.angle.source]
                angle = gate.angle.value if source is None else source[gate.angle.index]
            state = self._apply(state, gate.spec.matrix(angle), gate.wires, n)
        probs = np.abs(state) ** 2
        if circuit.readout.kind == "probs":
            return probs
        indices = np.arange(2**n)
        return np.array([probs @ (1 - 2 * ((indices >> wire) & 1)) for wire in circuit.readout.wires])

    def evaluate(self, compiled, inputs, weights, *, shots=None, seed=None):
        x = inputs.detach().cpu().double().numpy()
        w = weights.detach().cpu().double().numpy()
        rows = [self._run_one(compiled, x[b], w if w.ndim == 1 else w[b]) for b in range(x.shape[0])]
        return torch.tensor(np.array(rows).reshape(x.shape[0], -1), dtype=inputs.dtype, device=inputs.device)


@hookimpl
def qwthn_register_backends(register):
    register(NumpyBackend)
