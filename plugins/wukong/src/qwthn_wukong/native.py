"""Native decomposition to the chip's gate set {RX, RY, RZ, CZ}, and its depth and duration.

Fixed rotations, exact up to a global phase (which no read-out sees):
H = RY(pi/2) RZ(pi) (RZ first), X = RX(pi), CNOT(c, t) = RY_t(pi/2) CZ RY_t(-pi/2) (RY(-pi/2) first),
SWAP = three CNOTs. RZ is virtual on the chip (a frame change): 0 ns and noiseless. Controlled
rotations are not native and are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.errors import CapabilityError

NATIVE = frozenset({"RX", "RY", "RZ", "CZ"})
SUPPORTED = frozenset({"RX", "RY", "RZ", "H", "X", "CZ", "CNOT"})
HALF_PI = Angle.const(math.pi / 2)
MINUS_HALF_PI = Angle.const(-math.pi / 2)
PI = Angle.const(math.pi)


def decompose_gate(gate: Gate) -> list[Gate]:
    """One gate of SUPPORTED (or SWAP) as native gates on the same wires."""
    name, wires = gate.name, gate.wires
    if name in NATIVE:
        return [gate]
    if name == "H":
        return [Gate("RZ", wires, PI), Gate("RY", wires, HALF_PI)]
    if name == "X":
        return [Gate("RX", wires, PI)]
    if name == "CNOT":
        target = wires[1]
        return [Gate("RY", (target,), MINUS_HALF_PI), Gate("CZ", wires), Gate("RY", (target,), HALF_PI)]
    if name == "SWAP":
        a, b = wires
        return [
            *decompose_gate(Gate("CNOT", (a, b))),
            *decompose_gate(Gate("CNOT", (b, a))),
            *decompose_gate(Gate("CNOT", (a, b))),
        ]
    raise CapabilityError(f"gate {name} is not native to the Wukong chip and has no decomposition here")


def decompose(gates) -> list[Gate]:
    return [native for gate in gates for native in decompose_gate(gate)]


def to_native(circuit: Circuit) -> Circuit:
    """The same circuit over {RX, RY, RZ, CZ} on the same logical wires and read-out."""
    return Circuit(
        circuit.n_qubits, tuple(decompose(circuit.gates)), circuit.n_inputs, circuit.n_weights, circuit.readout
    )


@dataclass(frozen=True)
class Schedule:
    depth: int
    """Layers of physical (timed) gates, ASAP; virtual RZ gates take no layer."""
    duration_ns: float
    single_gates: int
    cz_gates: int
    virtual_gates: int


def schedule(circuit: Circuit, single_gate_ns: float = 30.0, cz_gate_ns: float = 40.0) -> Schedule:
    """ASAP schedule of a native circuit with the chip's gate clocks."""
    time = [0.0] * circuit.n_qubits
    layer = [0] * circuit.n_qubits
    singles = czs = virtual = 0
    for gate in circuit.gates:
        if gate.name == "RZ":
            virtual += 1
            continue
        if gate.name not in NATIVE:
            raise CapabilityError(f"schedule() needs a native circuit, found {gate.name}")
        duration = cz_gate_ns if gate.name == "CZ" else single_gate_ns
        if gate.name == "CZ":
            czs += 1
        else:
            singles += 1
        start = max(time[w] for w in gate.wires)
        depth = max(layer[w] for w in gate.wires) + 1
        for wire in gate.wires:
            time[wire] = start + duration
            layer[wire] = depth
    return Schedule(max(layer, default=0), max(time, default=0.0), singles, czs, virtual)


def probs_circuit(n_qubits: int, gates, n_inputs: int, n_weights: int) -> Circuit:
    return Circuit(n_qubits, tuple(gates), n_inputs, n_weights, Readout("probs"))
