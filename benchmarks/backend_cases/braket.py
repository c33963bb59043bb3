"""Amazon Braket by hand: the adapter's circuit written directly with the Braket SDK, on LocalSimulator("braket_sv").

hand_batched: the circuit with one FreeParameter per input and weight, serialised to OpenQASM
once, then ONE `LocalSimulator.run_batch(program, shots=0, inputs=[one dict per row])` (the
SDK's batched exact call; `max_parallel=1`, as the plugin's default). hand_loop: one
`LocalSimulator.run(circuit, shots=0, inputs=row)` per row. Both use the stock simulator;
the plugin's seeded subclass also caches the simulator's `properties`, which the SDK rebuilds
three times per circuit (see qwthn_braket.simulators), so the plugin can beat hand_batched.
"""

from __future__ import annotations

import numpy as np
from braket.circuits import Circuit, FreeParameter, Observable
from braket.circuits.serialization import IRType
from braket.devices import LocalSimulator

BACKEND = "braket"
OPTIONS = {"device": "braket_sv", "max_parallel": 1}

_SIMULATOR = LocalSimulator("braket_sv")


def _circuit(n_qubits: int, n_layers: int) -> Circuit:
    """RY(x_i) on wire i; per layer RZ(w) then RY(w) on every wire, then a CZ chain (not after the last layer)."""
    circuit = Circuit()
    for wire in range(n_qubits):
        circuit.ry(wire, FreeParameter(f"x{wire}"))
    for layer in range(n_layers):
        base = layer * 2 * n_qubits
        for wire in range(n_qubits):
            circuit.rz(wire, FreeParameter(f"w{base + wire}"))
        for wire in range(n_qubits):
            circuit.ry(wire, FreeParameter(f"w{base + n_qubits + wire}"))
        if layer < n_layers - 1:
            for wire in range(n_qubits - 1):
                circuit.cz(wire, wire + 1)
    for wire in range(n_qubits):
        circuit.expectation(Observable.Z(), target=[wire])
    return circuit


def _rows(inputs: np.ndarray, weights: np.ndarray) -> list[dict[str, float]]:
    x, w = np.asarray(inputs, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    return [
        {**{f"x{i}": v for i, v in enumerate(xr)}, **{f"w{k}": v for k, v in enumerate(wr)}}
        for xr, wr in zip(x.tolist(), w.tolist(), strict=True)
    ]


def hand_batched(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    program = _circuit(n_qubits, n_layers).to_ir(IRType.OPENQASM)
    batch = _SIMULATOR.run_batch(program, shots=0, inputs=_rows(inputs, weights), max_parallel=1)
    return np.array([result.values for result in batch.results()], dtype=np.float64)


def hand_loop(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    circuit = _circuit(n_qubits, n_layers)
    rows = [_SIMULATOR.run(circuit, shots=0, inputs=row).result().values for row in _rows(inputs, weights)]
    return np.array(rows, dtype=np.float64)
