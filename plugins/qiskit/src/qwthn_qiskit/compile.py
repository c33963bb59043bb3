"""Transpile once per circuit, keep it symbolic, and record how to bind and read it.

A `CompiledCircuit` holds the transpiled (ISA) circuit with its parameters still free,
where each wire ended up on the device (`positions`, after routing), which column of
the row vector [inputs..., weights...] binds each remaining parameter, the read-out
observables mapped through the layout (`apply_layout`), and the two executable
variants: `measured` (clbit k = wire k, for samplers) and, on Aer, `probabilities`
(`save_probabilities` on the wires' final qubits, little-endian in wire order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit.circuit import ClassicalRegister, QuantumCircuit
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager
from qiskit_aer.noise import NoiseModel

from qwthn.contract.circuit import Circuit
from qwthn_qiskit.noise import measure_errors
from qwthn_qiskit.translate import aer_safe, translate


@dataclass(frozen=True, eq=False)
class CompiledCircuit:
    circuit: Circuit
    isa: QuantumCircuit
    """Transpiled, unbound, without measurements."""
    positions: tuple[int, ...]
    """positions[k]: the qubit of `isa` that holds wire k at the end of the circuit."""
    columns: np.ndarray
    """columns[j]: the row-vector column bound to `isa.parameters[j]` (unused parameters are gone)."""
    observables: tuple[SparsePauliOp, ...]
    """Z on each read-out wire, on `isa`'s qubits (for the estimator)."""
    measured: QuantumCircuit
    """`isa` + measurements into clbit k of wire k (for samplers)."""
    aer: bool
    probabilities: QuantumCircuit | None = None
    """On Aer: `isa` (+ measurement-time noise) + save_probabilities over `positions`."""
    estimated: QuantumCircuit | None = None
    """On Aer: `isa` (+ measurement-time noise), the estimator's circuit."""

    def values(self, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """[rows, isa.num_parameters] parameter values in `isa.parameters` order, from the qwthn rows."""
        rows = inputs.shape[0]
        weights = np.broadcast_to(weights, (rows, weights.shape[-1])) if weights.ndim == 1 else weights
        table = np.concatenate([inputs, weights], axis=1) if weights.shape[-1] else inputs
        return np.ascontiguousarray(table[:, self.columns], dtype=np.float64)


def _basis_gates(noise_model: NoiseModel) -> list[str]:
    standard = get_standard_gate_name_mapping()
    return [name for name in noise_model.basis_gates if name in standard and standard[name].num_qubits > 0]


def _transpile(
    qc: QuantumCircuit, backend: BackendV2 | None, noise_model: NoiseModel | None, options
) -> QuantumCircuit:
    if backend is not None:
        manager = generate_preset_pass_manager(
            optimization_level=options.optimization_level, backend=backend, seed_transpiler=options.seed_transpiler
        )
    elif noise_model is not None:
        # errors attach to the noise model's basis gates: translate into them (no device, so no layout)
        manager = generate_preset_pass_manager(
            optimization_level=options.optimization_level, basis_gates=_basis_gates(noise_model),
            seed_transpiler=options.seed_transpiler,
        )  # fmt: skip
    else:
        return qc  # the ideal simulator runs every gate of the table as written
    return manager.run(qc)


def _positions(isa: QuantumCircuit, n_qubits: int) -> tuple[int, ...]:
    if isa.layout is None:
        return tuple(range(n_qubits))
    return tuple(int(q) for q in isa.layout.final_index_layout(filter_ancillas=True)[:n_qubits])


def compile_circuit(
    circuit: Circuit,
    *,
    backend: BackendV2 | None,
    noise_model: NoiseModel | None,
    aer_basis: frozenset[str] | None,
    options,
) -> CompiledCircuit:
    """Translate and transpile `circuit` once; the result binds any batch without transpiling again.

    `aer_basis`: the gates of the AerSimulator that will run it, or None when a non-Aer device does.
    """
    aer = aer_basis is not None
    translated = translate(circuit)
    isa = _transpile(translated.circuit, backend, noise_model, options)
    positions = _positions(isa, circuit.n_qubits)
    if aer:
        isa = aer_safe(isa, aer_basis)
    table = translated.columns()
    columns = np.array([table[parameter] for parameter in isa.parameters], dtype=np.int64)

    observables = ()
    if circuit.readout.kind == "expval_z":
        logical = [
            SparsePauliOp.from_sparse_list([("Z", [wire], 1.0)], circuit.n_qubits) for wire in circuit.readout.wires
        ]
        observables = tuple(op.apply_layout(isa.layout) if isa.layout is not None else op for op in logical)

    measured = isa.copy()
    register = ClassicalRegister(circuit.n_qubits, "meas")
    measured.add_register(register)
    for wire, qubit in enumerate(positions):
        measured.measure(qubit, register[wire])

    probabilities = estimated = None
    if aer:
        estimated = isa.copy()
        model = (
            noise_model if noise_model is not None else getattr(getattr(backend, "options", None), "noise_model", None)
        )
        for qubit, error in measure_errors(model, positions):
            estimated.append(error, [qubit])  # errors Aer applies just before a measurement
        probabilities = estimated.copy()
        probabilities.save_probabilities(list(positions))
    return CompiledCircuit(circuit, isa, positions, columns, observables, measured, aer, probabilities, estimated)
