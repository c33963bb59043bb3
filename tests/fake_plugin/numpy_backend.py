"""A third-party-style backend written only against the public contract.

A tiny NumPy state-vector simulator that numbers qubits little-endian (as
Qiskit does) and is NOT differentiable in torch, so using it exercises the
core's capability checks, endianness reordering and parameter-shift rule.
"""

from __future__ import annotations

import numpy as np
import torch

from qwthn import Capabilities, Circuit, QuantumBackend, hookimpl

_PAULI = {
    "RX": np.array([[0, 1], [1, 0]], dtype=complex),
    "RY": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "RZ": np.array([[1, 0], [0, -1]], dtype=complex),
}
_FIXED = {
    "H": np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
}


def _rotation(name: str, angle: float) -> np.ndarray:
    return np.cos(angle / 2) * np.eye(2) - 1j * np.sin(angle / 2) * _PAULI[name]


class NumpyBackend(QuantumBackend):
    name = "numpy-test"
    description = "little-endian NumPy state vector used by the test suite"
    capabilities = Capabilities(
        max_qubits=10,
        supported_gates=frozenset({"RX", "RY", "RZ", "H", "X", "CZ", "CNOT"}),
        differentiable=False,
        supports_shots=False,
        qubit_ordering="little",
    )

    def compile(self, circuit: Circuit) -> Circuit:
        return circuit

    def _apply_single(self, state: np.ndarray, matrix: np.ndarray, qubit: int, n: int) -> np.ndarray:
        axis = n - 1 - qubit  # little-endian: qubit 0 is the last tensor axis
        state = np.moveaxis(state.reshape([2] * n), axis, 0)
        state = np.tensordot(matrix, state, axes=1)
        return np.moveaxis(state, 0, axis).reshape(-1)

    def _apply_controlled(self, state: np.ndarray, gate: str, control: int, target: int, n: int) -> np.ndarray:
        indices = np.arange(2**n)
        control_on = (indices >> control) & 1 == 1
        out = state.copy()
        if gate == "CZ":
            out[control_on & ((indices >> target) & 1 == 1)] *= -1
        else:
            flipped = indices ^ (1 << target)
            out[control_on] = state[flipped[control_on]]
        return out

    def _run_one(self, circuit: Circuit, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        n = circuit.n_qubits
        state = np.zeros(2**n, dtype=complex)
        state[0] = 1
        for gate in circuit.gates:
            if gate.name in ("CZ", "CNOT"):
                state = self._apply_controlled(state, gate.name, gate.wires[0], gate.wires[1], n)
                continue
            if gate.angle is None:
                matrix = _FIXED[gate.name]
            else:
                source = {"const": None, "input": inputs, "weight": weights}[gate.angle.source]
                angle = gate.angle.value if source is None else source[gate.angle.index]
                matrix = _rotation(gate.name, angle)
            state = self._apply_single(state, matrix, gate.wires[0], n)
        probs = np.abs(state) ** 2
        if circuit.readout.kind == "probs":
            return probs
        indices = np.arange(2**n)
        return np.array([probs @ (1 - 2 * ((indices >> wire) & 1)) for wire in circuit.readout.wires])

    def evaluate(self, compiled, inputs, weights, *, shots=None, seed=None):
        x = inputs.detach().cpu().double().numpy()
        w = weights.detach().cpu().double().numpy()
        rows = [self._run_one(compiled, x[b], w if w.ndim == 1 else w[b]) for b in range(x.shape[0])]
        return torch.tensor(np.array(rows), dtype=inputs.dtype, device=inputs.device)


@hookimpl
def qwthn_register_backends(register):
    register(NumpyBackend)
