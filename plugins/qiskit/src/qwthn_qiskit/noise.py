"""Measurement noise in exact mode: what Aer applies at a measurement, which exact evaluation has none of.

Exact values come from `save_expectation_value` / `save_probabilities`, which measure nothing, so
Aer would skip the two error kinds a `NoiseModel` attaches to measurements (the fake devices'
models have both). To keep exact values equal to the shot-based ones in expectation:

- quantum errors on `measure` (Aer applies them just before measuring) are inserted as channels
  before the save instruction (`measure_errors`);
- one-qubit `ReadoutError`s (classical bit flips after measuring) are applied to the exact result
  as each wire's assignment matrix (`apply_readout`).

Only one-qubit errors are modelled: qwthn measures each wire by its own instruction, to which
Aer never applies errors declared on several qubits.
"""

from __future__ import annotations

import numpy as np
from qiskit_aer.noise import NoiseModel


def _local(model: NoiseModel, table: str, key, default):
    local = getattr(model, table, {}) or {}
    return local.get(key, default)


def measure_errors(model: NoiseModel | None, positions: tuple[int, ...]) -> list[tuple[int, object]]:
    """(qubit, channel instruction) for each wire whose measurement carries a quantum error."""
    if model is None:
        return []
    default = (getattr(model, "_default_quantum_errors", {}) or {}).get("measure")
    local = (getattr(model, "_local_quantum_errors", {}) or {}).get("measure", {})
    found = []
    for qubit in positions:
        error = local.get((qubit,), default)
        if error is not None:
            found.append((qubit, error.to_instruction()))
    return found


def readout_matrices(model: NoiseModel | None, positions: tuple[int, ...]) -> list[np.ndarray | None]:
    """Per wire, the 2x2 assignment matrix P[true, measured] of its qubit, or None when it has none."""
    if model is None:
        return [None] * len(positions)
    default = getattr(model, "_default_readout_error", None)
    matrices = []
    for qubit in positions:
        error = _local(model, "_local_readout_errors", (qubit,), default)
        matrices.append(None if error is None else np.asarray(error.probabilities, dtype=np.float64))
    return matrices


def apply_readout(
    values: np.ndarray, kind: str, wires: tuple[int, ...], matrices: list[np.ndarray | None]
) -> np.ndarray:
    """Exact values -> the values measured through each wire's assignment matrix.

    probs [B, 2^n] (little-endian: wire k is bit k): contract each wire's axis with its matrix.
    expval_z [B, len(wires)]: with P = [[1-a, a], [b, 1-b]], <Z>_measured = (b - a) + (1 - a - b) <Z>.
    """
    if all(matrix is None for matrix in matrices):
        return values
    if kind == "expval_z":
        out = values.copy()
        for column, wire in enumerate(wires):
            matrix = matrices[wire]
            if matrix is not None:
                a, b = matrix[0, 1], matrix[1, 0]
                out[:, column] = (b - a) + (1.0 - a - b) * values[:, column]
        return out
    n = len(matrices)
    tensor = values.reshape((values.shape[0],) + (2,) * n)
    for wire, matrix in enumerate(matrices):
        if matrix is not None:
            axis = n - wire  # axis 0 is the batch; the last axis is bit 0
            tensor = np.moveaxis(np.tensordot(tensor, matrix, axes=([axis], [0])), -1, axis)
    return tensor.reshape(values.shape)
