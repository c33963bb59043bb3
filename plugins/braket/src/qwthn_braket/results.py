"""Braket results -> rows of read-outs, in Braket's (big-endian) order: wire 0 is the leftmost bit.

Exact results come as result-type values; sampled ones as per-shot bit strings over the
measured qubits, from which this module takes the frequencies of all 2^n basis states or
<Z_w> = 1 - 2 P(bit_w = 1). Wires a device did not measure (a QPU drops qubits no gate
touches) never left |0>, so they read 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from qwthn_braket.program import CompiledCircuit


def exact_rows(compiled: CompiledCircuit, results: Sequence[Any]) -> np.ndarray:
    """[rows, n_outputs] from one shots=0 `GateModelQuantumTaskResult` per row."""
    if compiled.circuit.readout.kind == "probs":
        return np.stack([np.asarray(result.values[0], dtype=np.float64) for result in results])
    values = np.array([[float(value) for value in result.values] for result in results], dtype=np.float64)
    return values.reshape(len(results), -1)[:, compiled.result_index]


def sampled_row(compiled: CompiledCircuit, measurements: Any, measured_qubits: Sequence[int]) -> np.ndarray:
    """[n_outputs] estimated from one row's shots: `measurements` [shots, len(measured_qubits)] of 0/1."""
    n = compiled.circuit.n_qubits
    samples = np.asarray(measurements, dtype=np.int64).reshape(-1, len(measured_qubits))
    bits = np.zeros((samples.shape[0], n), dtype=np.int64)
    qubits = np.asarray([int(q) for q in measured_qubits], dtype=np.int64)
    keep = qubits < n
    bits[:, qubits[keep]] = samples[:, keep]
    shots = max(samples.shape[0], 1)
    readout = compiled.circuit.readout
    if readout.kind == "probs":
        place = 1 << (n - 1 - np.arange(n, dtype=np.int64))
        return np.bincount(bits @ place, minlength=2**n).astype(np.float64) / shots
    ones = bits[:, list(readout.wires)].sum(axis=0)
    return 1.0 - 2.0 * ones.astype(np.float64) / shots


def program_set_rows(
    compiled: CompiledCircuit, results: Sequence[Any], index_maps: Sequence[Sequence[int]]
) -> np.ndarray:
    """[rows, n_outputs] from the results of program sets that hold one executable per row.

    `index_maps[k][j]` is the row of executable j of program set k (as `ProgramSet.split` returns it).
    """
    total = sum(len(index_map) for index_map in index_maps)
    out = np.empty((total, compiled.circuit.n_outputs))
    for result, index_map in zip(results, index_maps, strict=True):
        entries = [entry for program in result.entries for entry in program.entries]
        if len(entries) != len(index_map):
            raise RuntimeError(f"braket: a program set returned {len(entries)} results for {len(index_map)} rows")
        for row, entry in zip(index_map, entries, strict=True):
            out[row] = sampled_row(compiled, entry.measurements, entry.measured_qubits)
    return out


def measured_rows(compiled: CompiledCircuit, results: Sequence[Any]) -> np.ndarray:
    """[rows, n_outputs] from one shot-based `GateModelQuantumTaskResult` per row (run_batch with shots)."""
    return np.stack([sampled_row(compiled, result.measurements, result.measured_qubits) for result in results])
