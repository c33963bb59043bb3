"""A deliberately faulty backend, `broken-test`, that the conformance suite must catch.

A small big-endian NumPy state vector with finite shots, written only against the
public contract. The option `fault` says what is wrong with it:

- "endianness" (the default): returns probabilities little-endian while declaring qubit_ordering='big';
- "rx-sign": applies RX(-theta) where RX(theta) is asked for;
- "per-row-weights": uses the first row's weights for every row of a [batch, n_weights] call;
- "unseeded": samples shots from an unseeded generator, ignoring `seed`;
- "vjp-sign": declares gradient='vjp' and its vjp returns the weights' gradient with the wrong sign;
- "chunk-order": evaluates a call's rows in blocks of 2 (as a backend that splits a batch into
  sub-jobs does) and returns the blocks in reverse order, so rows come back reordered;
- "noisy-rx-sign": the rx-sign fault only while noise is declared (its noise-off configuration is right);
- "understated-noise": declares a noise bound a tenth of the noise it applies;
- "none": nothing; with `coupling_map` and `routes` it exercises the suite's coupling-map checks.

Noise: `noise` = lambda applies a depolarising channel of strength lambda on the whole register after
every gate, which commutes with the gates: probs -> (1-lambda)^G probs + (1 - (1-lambda)^G) / 2^n.
`declare_noise` sets `supports_noise`; its noise-off configuration is `{"noise": 0, "declare_noise":
false}` (`noise_off="none"`: none, a noisy-only backend such as hardware; "still-noisy": a wrong one), and its noise
bound is the sum of the channels' diamond distances to the identity, G lambda (1 - 4^-n).

Its other options set what it declares: `max_qubits`, `max_batch`, `coupling_map`, `routes`,
`native_gates`, `gradient`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from qwthn import GATES, Capabilities, Circuit, QuantumBackend, hookimpl
from qwthn.contract.backend import NoiseBound

Fault = Literal[
    "none", "endianness", "rx-sign", "per-row-weights", "unseeded", "vjp-sign", "chunk-order", "noisy-rx-sign",
    "understated-noise",
]  # fmt: skip
FAULTS: tuple[str, ...] = Fault.__args__
CHUNK = 2
"""Rows per internal block of the chunk-order fault."""


class BrokenOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fault: Fault = "endianness"
    max_qubits: int = Field(default=6, ge=1, le=12)
    max_batch: int | None = Field(default=3, ge=1)
    coupling_map: list[tuple[int, int]] | None = None
    routes: bool = False
    native_gates: list[str] = Field(default_factory=lambda: sorted(set(GATES) - {"CRY"}))
    declare_noise: bool = False
    noise: float = Field(default=0.0, ge=0.0, le=1.0, description="depolarising lambda after every gate")
    noise_off: Literal["ideal", "none", "still-noisy"] = Field(
        default="ideal", description="the noise-off configuration it declares with noise: a right one, none "
        "(noisy-only, as hardware), or one that leaves declare_noise on",
    )  # fmt: skip
    gradient: Literal["parameter-shift", "vjp"] = "parameter-shift"


class BrokenBackend(QuantumBackend):
    name = "broken-test"
    description = "deliberately faulty NumPy state vector that the conformance suite must fail"
    Options = BrokenOptions

    @property
    def capabilities(self) -> Capabilities:
        options = self.options
        coupling = frozenset(map(tuple, options.coupling_map)) if options.coupling_map is not None else None
        noise_off = {"ideal": {"noise": 0.0, "declare_noise": False}, "none": None, "still-noisy": {"noise": 0.0}}[
            options.noise_off
        ]
        return Capabilities(
            max_qubits=options.max_qubits,
            native_gates=frozenset(options.native_gates),
            gradient="vjp" if options.gradient == "vjp" or options.fault == "vjp-sign" else "parameter-shift",
            supports_shots=True,
            qubit_ordering="big",
            coupling_map=coupling,
            routes=options.routes,
            max_batch=options.max_batch,
            supports_noise=options.declare_noise,
            noise_off=noise_off if options.declare_noise else None,
        )

    def compile(self, circuit: Circuit) -> Circuit:
        return circuit

    def noise_bound(self, compiled: Circuit) -> NoiseBound | None:
        """G lambda (1 - 4^-n): the global depolarising channel's diamond distance to the identity, per gate."""
        if not self.options.declare_noise:
            return None
        gates = len(compiled.gates) * self.options.noise * (1 - 4.0**-compiled.n_qubits)
        return NoiseBound(gates=gates / 10 if self.options.fault == "understated-noise" else gates)

    def _state(self, circuit: Circuit, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        n = circuit.n_qubits
        state = np.zeros([2] * n, dtype=complex)
        state[(0,) * n] = 1.0
        fault = self.options.fault
        flip_rx = fault == "rx-sign" or (fault == "noisy-rx-sign" and self.options.declare_noise)
        for gate in circuit.gates:
            angle = 0.0
            if gate.angle is not None:
                angle = {"const": gate.angle.value, "input": None, "weight": None}[gate.angle.source]
                if angle is None:
                    angle = (inputs if gate.angle.source == "input" else weights)[gate.angle.index]
            if flip_rx and gate.name == "RX":
                angle = -angle
            k = len(gate.wires)
            matrix = gate.spec.matrix(float(angle)).reshape([2] * (2 * k))
            state = np.tensordot(matrix, state, axes=(list(range(k, 2 * k)), list(gate.wires)))
            state = np.moveaxis(state, list(range(k)), list(gate.wires))
        return state.reshape(-1)

    def _probs(self, circuit: Circuit, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """[B, 2^n] exact probabilities (noise included), big-endian."""
        probs = np.array([np.abs(self._state(circuit, x[b], w if w.ndim == 1 else w[b])) ** 2 for b in range(len(x))])
        probs = probs.reshape(len(x), 2**circuit.n_qubits)
        survive = (1.0 - self.options.noise) ** len(circuit.gates)
        return survive * probs + (1.0 - survive) / 2**circuit.n_qubits

    def evaluate(self, compiled, inputs, weights, *, shots=None, seed=None):
        circuit, fault = compiled, self.options.fault
        x = inputs.detach().cpu().double().numpy()
        w = weights.detach().cpu().double().numpy()
        if w.ndim == 2 and fault == "per-row-weights":
            w = np.broadcast_to(w[:1], w.shape)
        if fault == "chunk-order" and len(x) > CHUNK:
            blocks = [slice(start, start + CHUNK) for start in range(0, len(x), CHUNK)]
            probs = np.concatenate([self._probs(circuit, x[b], w if w.ndim == 1 else w[b]) for b in blocks[::-1]])
        else:
            probs = self._probs(circuit, x, w)
        if shots is not None:
            generator = np.random.default_rng(None if fault == "unseeded" else seed)
            probs = np.array([generator.multinomial(shots, row / row.sum()) / shots for row in probs])
        out = self._readout(circuit, probs)
        return torch.tensor(out, dtype=inputs.dtype, device=inputs.device)

    def _readout(self, circuit: Circuit, probs: np.ndarray) -> np.ndarray:
        n = circuit.n_qubits
        if circuit.readout.kind == "probs":
            if self.options.fault == "endianness":
                probs = probs[:, [int(f"{i:0{n}b}"[::-1], 2) for i in range(2**n)]]
            return probs
        index = np.arange(2**n)
        return np.stack([probs @ (1 - 2 * ((index >> (n - 1 - wire)) & 1)) for wire in circuit.readout.wires], 1)

    def vjp(self, compiled, inputs, weights, cotangent):
        """Central differences of <cotangent, outputs> (exact to ~1e-9); vjp-sign flips the weights' part."""
        x = inputs.detach().cpu().double().numpy()
        w = weights.detach().cpu().double().numpy()
        c = cotangent.detach().cpu().double().numpy()
        step = 1e-6

        def rows(x_: np.ndarray, w_: np.ndarray) -> np.ndarray:
            return (self._readout(compiled, self._probs(compiled, x_, w_)) * c).sum(axis=1)

        grad_x, grad_w = np.zeros_like(x), np.zeros_like(w)
        for column in range(x.shape[1]):
            bump = np.zeros_like(x)
            bump[:, column] = step
            grad_x[:, column] = (rows(x + bump, w) - rows(x - bump, w)) / (2 * step)
        for index in np.ndindex(w.shape[-1:]):
            bump = np.zeros_like(w)
            bump[..., index[0]] = step
            difference = (rows(x, w + bump) - rows(x, w - bump)) / (2 * step)
            if w.ndim == 2:
                grad_w[:, index[0]] = difference
            else:
                grad_w[index] = difference.sum()
        if self.options.fault == "vjp-sign":
            grad_w = -grad_w
        as_tensor = {"dtype": inputs.dtype, "device": inputs.device}
        return torch.tensor(grad_x, **as_tensor), torch.tensor(grad_w, dtype=weights.dtype, device=weights.device)


@hookimpl
def qwthn_register_backends(register):
    register(BrokenBackend)
