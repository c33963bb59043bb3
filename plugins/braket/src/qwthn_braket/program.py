"""The compiled form: OpenQASM programs serialised once per circuit, and the binding of a batch to their inputs.

Two programs come out of one translation: `exact` carries result types (<Z_w> per
read-out wire, or the probabilities of all wires) for shots=0 runs, and `sampling` has
none, so Braket measures every qubit (what program sets and QPUs take). Each row of a
batch binds only values to the programs' `input float` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from braket.circuits import Observable
from braket.circuits.serialization import IRType
from braket.ir.openqasm import Program

from qwthn.contract.circuit import Circuit
from qwthn_braket.noise import apply_noise
from qwthn_braket.options import BraketOptions
from qwthn_braket.translate import INPUT_PREFIX, translate


@dataclass(frozen=True, eq=False)
class CompiledCircuit:
    """A circuit's Braket programs and where each of their parameters reads its values from."""

    circuit: Circuit
    exact: Program
    sampling: Program
    names: tuple[str, ...]
    """Free parameters of the programs, bound per row."""
    input_columns: np.ndarray
    """For each name: its input column, or -1 for a weight."""
    weight_indices: np.ndarray
    """For each name: its weight index, or -1 for an input."""
    result_index: np.ndarray
    """expval_z: output k is result type result_index[k] (result types are one per distinct wire)."""

    def bind(self, inputs: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
        """[rows, len(names)] float64 values of the parameters for each row (weights [W] or [rows, W])."""
        rows = inputs.shape[0]
        x = inputs.detach().to("cpu", torch.float64).numpy()
        w = weights.detach().to("cpu", torch.float64).numpy()
        w = np.broadcast_to(w, (rows, w.shape[-1]))
        values = np.empty((rows, len(self.names)))
        is_input = self.input_columns >= 0
        values[:, is_input] = x[:, self.input_columns[is_input]]
        values[:, ~is_input] = w[:, self.weight_indices[~is_input]]
        return values

    def rows(self, values: np.ndarray) -> list[dict[str, float]]:
        """One `inputs` mapping per row, as `run_batch` takes them."""
        return [dict(zip(self.names, row, strict=True)) for row in values.tolist()]

    def columns(self, values: np.ndarray) -> dict[str, list[float]]:
        """One list per parameter, as a program set's OpenQASM program takes them."""
        return {name: values[:, k].tolist() for k, name in enumerate(self.names)}


def compile_circuit(circuit: Circuit, options: BraketOptions, *, pad_idle: bool = True) -> CompiledCircuit:
    """Translate, add the instance's noise, and serialise both programs once."""
    braket = apply_noise(
        translate(circuit, pad_idle=pad_idle), circuit.n_qubits, options.depolarizing, options.readout_error
    )
    sampling = braket.to_ir(ir_type=IRType.OPENQASM)
    with_results = braket.copy()
    readout = circuit.readout
    if readout.kind == "probs":
        with_results.probability(target=list(range(circuit.n_qubits)))
        result_index = np.zeros(0, dtype=np.int64)
    else:
        distinct = list(dict.fromkeys(readout.wires))
        for wire in distinct:
            with_results.expectation(Observable.Z(), target=[wire])
        result_index = np.array([distinct.index(wire) for wire in readout.wires], dtype=np.int64)
    names = tuple(sorted(parameter.name for parameter in braket.parameters))
    is_input = [name.startswith(INPUT_PREFIX) for name in names]
    index = [int(name.rsplit("_", 1)[1]) for name in names]
    return CompiledCircuit(
        circuit=circuit,
        exact=with_results.to_ir(ir_type=IRType.OPENQASM),
        sampling=Program(source=sampling.source),
        names=names,
        input_columns=np.array([i if inp else -1 for i, inp in zip(index, is_input, strict=True)], dtype=np.int64),
        weight_indices=np.array([-1 if inp else i for i, inp in zip(index, is_input, strict=True)], dtype=np.int64),
        result_index=result_index,
    )
