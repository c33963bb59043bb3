"""qwthn circuit IR -> a Braket `Circuit` whose angles stay symbolic (one `FreeParameter` per input/weight).

Translated once per circuit, so a whole batch binds values to the same program. Every gate
of the table maps exactly: the rotations, H, X, CZ and CNOT one-to-one (Braket's
`rx(t)` is exp(-i t X / 2) like the table's); a controlled rotation becomes the standard
exact identity CR_P(t) = R_P(t/2) . C . R_P(-t/2) . C on the target, with C = CNOT
(P = Y, Z) or CZ (P = X), because `ctrl @` modifiers are an OpenQASM feature Braket warns
QPUs and on-demand simulators may not support.
"""

from __future__ import annotations

from collections.abc import Callable

from braket.circuits import Circuit as BraketCircuit
from braket.circuits import FreeParameter, FreeParameterExpression

from qwthn.contract.circuit import Angle, Circuit, Gate

INPUT_PREFIX = "qin_"
WEIGHT_PREFIX = "qw_"

Symbol = float | FreeParameter | FreeParameterExpression

_ONE_QUBIT = {"RX": "rx", "RY": "ry", "RZ": "rz", "H": "h", "X": "x"}
_TWO_QUBIT = {"CZ": "cz", "CNOT": "cnot"}
_CONTROLLED = {"CRX": ("rx", "cz"), "CRY": ("ry", "cnot"), "CRZ": ("rz", "cnot")}

BRAKET_OPERATIONS: dict[str, frozenset[str]] = {
    **{name: frozenset({op}) for name, op in {**_ONE_QUBIT, **_TWO_QUBIT}.items()},
    **{name: frozenset(ops) for name, ops in _CONTROLLED.items()},
}
"""Braket operation names each gate of the table translates to: a device runs the gate iff it supports all of them."""

IDLE_OPERATION = "i"
"""Put on wires no gate touches, so the program declares and reads out every wire of the circuit."""


def parameter_name(angle: Angle) -> str:
    """The Braket input name of an input column or weight index (valid OpenQASM identifiers)."""
    prefix = INPUT_PREFIX if angle.source == "input" else WEIGHT_PREFIX
    return f"{prefix}{angle.index}"


def _symbol(angle: Angle) -> Symbol:
    return float(angle.value) if angle.source == "const" else FreeParameter(parameter_name(angle))


def _controlled(rotation: str, entangler: str) -> Callable[[BraketCircuit, tuple[int, ...], Symbol], None]:
    def add(target: BraketCircuit, wires: tuple[int, ...], theta: Symbol) -> None:
        control, qubit = wires
        getattr(target, rotation)(qubit, theta / 2)
        getattr(target, entangler)(control, qubit)
        getattr(target, rotation)(qubit, -theta / 2)
        getattr(target, entangler)(control, qubit)

    return add


def add_gate(target: BraketCircuit, gate: Gate) -> None:
    """Append the Braket form of one qwthn gate (wires are Braket qubit indices)."""
    name = gate.name
    if name in _ONE_QUBIT:
        method = getattr(target, _ONE_QUBIT[name])
        if gate.angle is None:
            method(gate.wires[0])
        else:
            method(gate.wires[0], _symbol(gate.angle))
    elif name in _TWO_QUBIT:
        getattr(target, _TWO_QUBIT[name])(*gate.wires)
    elif name in _CONTROLLED:
        _controlled(*_CONTROLLED[name])(target, gate.wires, _symbol(gate.angle))
    else:  # the core refuses undeclared gates before compile; this guards a stale declaration
        raise ValueError(f"braket: gate {name} has no translation")


def translate(circuit: Circuit, *, pad_idle: bool = True) -> BraketCircuit:
    """The gates of `circuit` as a Braket circuit, without result types or noise.

    `pad_idle` puts an identity on each wire no gate touches: Braket declares only
    qubits up to the highest one used, and result types on an undeclared qubit fail.
    """
    target = BraketCircuit()
    for gate in circuit.gates:
        add_gate(target, gate)
    if pad_idle:
        used = {wire for gate in circuit.gates for wire in gate.wires}
        for wire in range(circuit.n_qubits):
            if wire not in used:
                target.i(wire)
    return target
