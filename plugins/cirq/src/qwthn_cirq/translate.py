"""qwthn `Circuit` -> symbolic `cirq.Circuit`, once per circuit, and a batch -> one Cirq parameter sweep.

Every input column i is the sympy symbol `x_i` and every weight index k is `w_k`, so the
circuit is translated once and a whole batch binds as one `cirq.Zip` of `cirq.Points`.
Qubits are `cirq.LineQubit(0..n-1)`, always passed as the explicit qubit order, which makes
wire 0 the most significant bit of Cirq's state-vector index (qubit_ordering "big").

Each gate is the Cirq gate whose unitary equals the gate table's `GateSpec.matrix` exactly,
global phase included (checked by the tests for every gate at several angles):
`cirq.rx/ry/rz` are exp(-i t P/2) (not the `XPowGate` family, whose phase differs, which a
control would make visible), and controlled rotations are `cirq.ControlledGate` of them,
identity on the control-0 block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cirq
import numpy as np
import sympy

from qwthn.contract.circuit import Angle, Circuit, Gate

GateMaker = Callable[[object], cirq.Gate]

GATE_MAKERS: dict[str, GateMaker] = {
    "RX": cirq.rx,
    "RY": cirq.ry,
    "RZ": cirq.rz,
    "H": lambda _angle: cirq.H,
    "X": lambda _angle: cirq.X,
    "CZ": lambda _angle: cirq.CZ,
    "CNOT": lambda _angle: cirq.CNOT,
    "CRX": lambda angle: cirq.ControlledGate(cirq.rx(angle)),
    "CRY": lambda angle: cirq.ControlledGate(cirq.ry(angle)),
    "CRZ": lambda angle: cirq.ControlledGate(cirq.rz(angle)),
}
"""Gate-table name -> Cirq gate for an angle (a float or a sympy symbol); the first wire is the control."""

NATIVE_GATES = frozenset(GATE_MAKERS)

MEASUREMENT_KEY = "m"


def input_symbol(index: int) -> str:
    return f"x_{index}"


def weight_symbol(index: int) -> str:
    return f"w_{index}"


@dataclass(frozen=True, eq=False)
class Translated:
    """A circuit in Cirq: symbolic, over all n qubits, and the same with every qubit measured (for shots)."""

    circuit: Circuit
    qubits: tuple[cirq.LineQubit, ...]
    program: cirq.Circuit
    measured: cirq.Circuit
    input_columns: tuple[int, ...]
    """The input columns some gate reads (each is the symbol `x_i`)."""
    weight_indices: tuple[int, ...]
    """The weight indices some gate reads (each is the symbol `w_k`)."""


def _angle(angle: Angle | None) -> object:
    if angle is None:
        return None
    if angle.source == "const":
        return float(angle.value)
    name = input_symbol(angle.index) if angle.source == "input" else weight_symbol(angle.index)
    return sympy.Symbol(name)


def operation(gate: Gate, qubits: tuple[cirq.LineQubit, ...]) -> cirq.Operation:
    """The Cirq operation of one gate, on `qubits[w]` for each of its wires w (control first)."""
    return GATE_MAKERS[gate.name](_angle(gate.angle)).on(*(qubits[wire] for wire in gate.wires))


def translate(circuit: Circuit, noise: Sequence[cirq.NoiseModel] = ()) -> Translated:
    """The symbolic Cirq program of `circuit`, with the `noise` models applied in turn, written into it.

    Idle wires get a virtual identity so that every wire belongs to the program: a noise model
    then sees the same qubits in exact mode as in the measured (shot) program. Noise is written
    into the programs here rather than passed to the simulator because Cirq 1.6.1's
    `DensityMatrixSimulator(noise=...)` lets noise that a model adds after a terminal
    measurement of several qubits leak into the samples (X then a moment-noise depolarize(0.15),
    measured with a second qubit: <Z> came out -0.64 instead of -0.80); moments after the final
    measurement are dropped here instead.
    """
    qubits = tuple(cirq.LineQubit.range(circuit.n_qubits))
    program = cirq.Circuit(operation(gate, qubits) for gate in circuit.gates)
    idle = [qubit for qubit in qubits if qubit not in program.all_qubits()]
    if idle:
        program.insert(0, [cirq.I(qubit).with_tags(cirq.VirtualTag()) for qubit in idle])
    measured = program + cirq.Circuit(cirq.measure(*qubits, key=MEASUREMENT_KEY))
    for model in noise:
        program, measured = program.with_noise(model), measured.with_noise(model)
    last = max(index for index, moment in enumerate(measured) if any(cirq.is_measurement(op) for op in moment))
    measured = measured[: last + 1]
    angles = [gate.angle for gate in circuit.gates if gate.angle is not None]
    return Translated(
        circuit=circuit,
        qubits=qubits,
        program=program,
        measured=measured,
        input_columns=tuple(sorted({a.index for a in angles if a.source == "input"})),
        weight_indices=tuple(sorted({a.index for a in angles if a.source == "weight"})),
    )


def sweep(translated: Translated, inputs: np.ndarray, weights: np.ndarray) -> cirq.Zip:
    """One sweep point per row: inputs [B, n_inputs]; weights [n_weights] (shared) or [B, n_weights]."""
    rows = inputs.shape[0]
    points = [cirq.Points(input_symbol(i), inputs[:, i].tolist()) for i in translated.input_columns]
    for k in translated.weight_indices:
        values = weights[:, k].tolist() if weights.ndim == 2 else [float(weights[k])] * rows
        points.append(cirq.Points(weight_symbol(k), values))
    if not points:  # no symbol: still one sweep point per row
        points.append(cirq.Points("_row", list(range(rows))))
    return cirq.Zip(*points)
