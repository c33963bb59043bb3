"""The adapter's circuit written by hand in Qiskit, for benchmarks/backends.py (not through qwthn_qiskit).

hand_batched: one Aer EstimatorV2 PUB for all B rows (values [B, 1, P] against n observables).
hand_loop: the naive way, one bound circuit and one estimator run per row.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer.primitives import EstimatorV2

BACKEND = "qiskit"
OPTIONS = {"method": "statevector"}


@lru_cache(maxsize=16)
def _circuit(n_qubits: int, n_layers: int) -> tuple[QuantumCircuit, tuple[SparsePauliOp, ...], np.ndarray]:
    """RY(x_i) on wire i; per layer RZ(w) then RY(w) on every wire, CZ chain between layers; Z_w read-outs.

    Also returns, for each of `qc.parameters` (Qiskit's sorted order), its column in [inputs | weights].
    """
    x = ParameterVector("x", n_qubits)
    w = ParameterVector("w", 2 * n_qubits * n_layers)
    qc = QuantumCircuit(n_qubits)
    for wire in range(n_qubits):
        qc.ry(x[wire], wire)
    for layer in range(n_layers):
        base = layer * 2 * n_qubits
        for wire in range(n_qubits):
            qc.rz(w[base + wire], wire)
        for wire in range(n_qubits):
            qc.ry(w[base + n_qubits + wire], wire)
        if layer < n_layers - 1:
            for wire in range(n_qubits - 1):
                qc.cz(wire, wire + 1)
    # Qiskit labels are little-endian: qubit w is the w-th character from the right
    observables = tuple(SparsePauliOp.from_sparse_list([("Z", [wire], 1.0)], n_qubits) for wire in range(n_qubits))
    order = np.array([p.index if p.vector.name == "x" else n_qubits + p.index for p in qc.parameters])
    return qc, observables, order


@lru_cache(maxsize=1)
def _estimator() -> EstimatorV2:
    return EstimatorV2()


def _values(order: np.ndarray, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rows of parameter values in `qc.parameters` order."""
    table = np.concatenate([np.asarray(inputs, dtype=np.float64), np.asarray(weights, dtype=np.float64)], axis=1)
    return np.ascontiguousarray(table[:, order])


def hand_batched(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    qc, observables, order = _circuit(n_qubits, n_layers)
    values = _values(order, inputs, weights)[:, None, :]  # [B, 1, P] broadcasts against (n,) observables -> [B, n]
    evs = _estimator().run([(qc, list(observables), values)]).result()[0].data.evs
    return np.asarray(evs, dtype=np.float64)


def hand_loop(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    qc, observables, order = _circuit(n_qubits, n_layers)
    estimator = _estimator()
    rows = []
    for row in _values(order, inputs, weights):
        bound = qc.assign_parameters(row)
        rows.append(estimator.run([(bound, list(observables))]).result()[0].data.evs)
    return np.asarray(rows, dtype=np.float64)
