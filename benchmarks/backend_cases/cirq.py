"""The adapter's circuit written by hand in Cirq, for benchmarks/backends.py (backend `cirq`, default options).

RY(inputs[:, i]) on wire i; then per layer l: RZ(weights[:, l*2n + w]) and RY(weights[:, l*2n + n + w])
on every wire w, and CZ(w, w+1) between layers; read-out <Z_w> per wire (column w is wire w).
`cirq.Simulator` in complex128, as the plugin's default options run it.

- hand_batched: one symbolic circuit and ONE `simulate_expectation_values_sweep` over a `cirq.Zip`
  of `cirq.Points` holding all B rows (Cirq's batched API; it still simulates row by row inside).
- hand_loop: one `simulate_expectation_values` call per row with that row's `ParamResolver`.
"""

from __future__ import annotations

import cirq
import numpy as np
import sympy

BACKEND = "cirq"
OPTIONS: dict = {}  # simulator 'statevector' (cirq.Simulator), complex128, exact


def _circuit(n_qubits: int, n_layers: int) -> tuple[cirq.Circuit, list[cirq.LineQubit], list[str], list[str]]:
    qubits = cirq.LineQubit.range(n_qubits)
    x_names = [f"x_{i}" for i in range(n_qubits)]
    w_names = [f"w_{k}" for k in range(2 * n_qubits * n_layers)]
    x, w = [sympy.Symbol(name) for name in x_names], [sympy.Symbol(name) for name in w_names]
    ops = [cirq.ry(x[i]).on(qubits[i]) for i in range(n_qubits)]
    for layer in range(n_layers):
        base = layer * 2 * n_qubits
        ops += [cirq.rz(w[base + wire]).on(qubits[wire]) for wire in range(n_qubits)]
        ops += [cirq.ry(w[base + n_qubits + wire]).on(qubits[wire]) for wire in range(n_qubits)]
        if layer < n_layers - 1:
            ops += [cirq.CZ(qubits[wire], qubits[wire + 1]) for wire in range(n_qubits - 1)]
    return cirq.Circuit(ops), qubits, x_names, w_names


def hand_batched(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    circuit, qubits, x_names, w_names = _circuit(n_qubits, n_layers)
    sweep = cirq.Zip(
        *(cirq.Points(name, inputs[:, i].tolist()) for i, name in enumerate(x_names)),
        *(cirq.Points(name, weights[:, k].tolist()) for k, name in enumerate(w_names)),
    )
    simulator = cirq.Simulator(dtype=np.complex128)
    observables = [cirq.Z(qubit) for qubit in qubits]
    values = simulator.simulate_expectation_values_sweep(circuit, observables, sweep, qubit_order=qubits)
    return np.asarray(values).real.astype(np.float64)


def hand_loop(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    circuit, qubits, x_names, w_names = _circuit(n_qubits, n_layers)
    simulator = cirq.Simulator(dtype=np.complex128)
    observables = [cirq.Z(qubit) for qubit in qubits]
    rows = []
    for row in range(inputs.shape[0]):
        values = dict(zip(x_names, inputs[row].tolist(), strict=True))
        values.update(zip(w_names, weights[row].tolist(), strict=True))
        rows.append(
            simulator.simulate_expectation_values(circuit, observables, cirq.ParamResolver(values), qubit_order=qubits)
        )
    return np.asarray(rows).real.astype(np.float64)
