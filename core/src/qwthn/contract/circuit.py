"""Backend-neutral description of a parametrised circuit.

Every backend compiles this one description, so a circuit built by the core
runs unchanged on the emulator, a vendor simulator or a chip. Angles are
symbolic: a constant, a column of the per-sample input matrix, or an entry of
the trainable weight vector. The values arrive only at evaluation time, which
is what lets a backend compile (transpile, route, cache) once and then bind a
whole batch.

Qubit ordering convention of the core: wire 0 is the most significant bit of
a basis-state index (big-endian, as PennyLane). Backends that number the other
way declare it in their capabilities and the core reorders their output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from qwthn.contract.gates import GATES, GateSpec
from qwthn.errors import QwthnError

AngleSource = Literal["const", "input", "weight"]
ReadoutKind = Literal["expval_z", "probs"]


@dataclass(frozen=True)
class Angle:
    """Where a rotation angle comes from: a constant, input column `index`, or weight `index`."""

    source: AngleSource
    index: int = 0
    value: float = 0.0

    @classmethod
    def const(cls, value: float) -> Angle:
        return cls("const", value=float(value))

    @classmethod
    def input(cls, index: int) -> Angle:
        return cls("input", index=index)

    @classmethod
    def weight(cls, index: int) -> Angle:
        return cls("weight", index=index)


@dataclass(frozen=True)
class Gate:
    """One gate of the gate table on `wires` (control first); parametrised gates carry an `angle`."""

    name: str
    wires: tuple[int, ...]
    angle: Angle | None = None

    @property
    def spec(self) -> GateSpec:
        return GATES[self.name]

    @property
    def parametrised(self) -> bool:
        return self.angle is not None


@dataclass(frozen=True)
class Readout:
    """What the circuit returns per sample.

    `expval_z`: <Z_w> for each wire in `wires`, in that order (len(wires) values).
    `probs`: the probabilities of all 2**n_qubits basis states, big-endian.
    """

    kind: ReadoutKind = "expval_z"
    wires: tuple[int, ...] = ()


@dataclass(frozen=True)
class Circuit:
    """A validated gate list on `n_qubits`, starting from |0...0>."""

    n_qubits: int
    gates: tuple[Gate, ...]
    n_inputs: int
    n_weights: int
    readout: Readout = field(default_factory=Readout)

    def __post_init__(self) -> None:
        if self.n_qubits < 1:
            raise QwthnError(f"circuit needs at least 1 qubit, got n_qubits={self.n_qubits}")
        for position, gate in enumerate(self.gates):
            self._check_gate(position, gate)
        if self.readout.kind == "expval_z":
            if not self.readout.wires:
                object.__setattr__(self, "readout", Readout("expval_z", tuple(range(self.n_qubits))))
            for wire in self.readout.wires:
                self._check_wire(wire, "readout")

    def _check_wire(self, wire: int, where: str) -> None:
        if not 0 <= wire < self.n_qubits:
            raise QwthnError(f"{where}: wire {wire} is outside 0..{self.n_qubits - 1}")

    def _check_gate(self, position: int, gate: Gate) -> None:
        where = f"gate {position} ({gate.name})"
        spec = GATES.get(gate.name)
        if spec is None:
            raise QwthnError(f"{where}: unknown gate; the gate table knows {sorted(GATES)}")
        if len(gate.wires) != spec.n_wires:
            raise QwthnError(f"{where}: takes {spec.n_wires} wire(s), got {gate.wires}")
        if len(set(gate.wires)) != len(gate.wires):
            raise QwthnError(f"{where}: wires must differ, got {gate.wires}")
        for wire in gate.wires:
            self._check_wire(wire, where)
        if spec.parametrised != (gate.angle is not None):
            raise QwthnError(f"{where}: parametrised gates need an angle and fixed gates take none")
        angle = gate.angle
        if angle is not None and angle.source != "const":
            limit = self.n_inputs if angle.source == "input" else self.n_weights
            if not 0 <= angle.index < limit:
                raise QwthnError(f"{where}: {angle.source} index {angle.index} is outside 0..{limit - 1}")

    @property
    def n_outputs(self) -> int:
        if self.readout.kind == "probs":
            return 2**self.n_qubits
        return len(self.readout.wires)

    @property
    def gate_names(self) -> frozenset[str]:
        return frozenset(gate.name for gate in self.gates)

    @property
    def two_qubit_pairs(self) -> frozenset[tuple[int, int]]:
        return frozenset(gate.wires for gate in self.gates if len(gate.wires) == 2)
