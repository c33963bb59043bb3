"""Gates a backend does not execute are rewritten here, once for every backend, into gates it does.

Each rule is an exact identity of the gate table (up to a global phase, which no
read-out sees). Controlled rotations need half angles (CRZ(t) = RZ_t(t/2) CNOT
RZ_t(-t/2) CNOT), so a lowered circuit reads its angles from new slots, each
slot being (original column, scale); `Lowering.bind` builds the slot values
with torch ops, so autograd carries gradients back to the original inputs and
weights whatever the backend's gradient method. Every lowered gate is a Pauli
rotation, whose two-term shift rule is exact: a backend without CRZ still
gets correct parameter-shift gradients for a circuit that uses it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from qwthn.contract.circuit import Angle, Circuit, Gate

ScaledGate = tuple[str, tuple[int, ...], float | None]
"""(gate name, wires, the factor on the rewritten gate's angle, or None for a fixed gate)."""

MAX_DEPTH = 4


def _controlled_rotation(rotation: str) -> Callable[[tuple[int, ...]], list[ScaledGate]]:
    """C-R(t) on (c, t) = R_t(t/2) CNOT R_t(-t/2) CNOT, for R = RY or RZ (X R(-a) X = R(a))."""

    def rule(wires: tuple[int, ...]) -> list[ScaledGate]:
        target = wires[1]
        return [(rotation, (target,), 0.5), ("CNOT", wires, None), (rotation, (target,), -0.5), ("CNOT", wires, None)]

    return rule


def _crx(wires: tuple[int, ...]) -> list[ScaledGate]:
    target = wires[1]
    return [("H", (target,), None), ("CRZ", wires, 1.0), ("H", (target,), None)]


def _cnot(wires: tuple[int, ...]) -> list[ScaledGate]:
    target = wires[1]
    return [("H", (target,), None), ("CZ", wires, None), ("H", (target,), None)]


def _cz(wires: tuple[int, ...]) -> list[ScaledGate]:
    target = wires[1]
    return [("H", (target,), None), ("CNOT", wires, None), ("H", (target,), None)]


RULES: dict[str, Callable[[tuple[int, ...]], list[ScaledGate]]] = {
    "CRZ": _controlled_rotation("RZ"),
    "CRY": _controlled_rotation("RY"),
    "CRX": _crx,
    "CNOT": _cnot,
    "CZ": _cz,
}
"""Gate -> an equivalent sequence; only gates a backend lacks are rewritten, and only into what it has."""

FIXED_RULES: dict[str, list[tuple[str, float]]] = {
    "H": [("RZ", math.pi), ("RY", math.pi / 2)],
    "X": [("RX", math.pi)],
}
"""One-qubit fixed gates as constant rotations (equal up to a global phase)."""


@dataclass(frozen=True, eq=False)
class Lowering:
    """The circuit a backend runs and how its angle slots come from the original inputs and weights."""

    circuit: Circuit
    input_columns: torch.Tensor | None = None
    input_scales: torch.Tensor | None = None
    weight_columns: torch.Tensor | None = None
    weight_scales: torch.Tensor | None = None

    @property
    def rewritten(self) -> bool:
        return self.input_columns is not None

    @functools.cached_property
    def _inputs_unchanged(self) -> bool:
        """Whether every input slot is its own column at scale 1, in order."""
        columns = self.input_columns.tolist()
        return columns == list(range(len(columns))) and bool((self.input_scales == 1).all())

    def bind(self, inputs: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Original [rows, n_inputs] and [n_weights] or [rows, n_weights] -> the lowered circuit's slots."""
        if not self.rewritten:
            return inputs, weights
        device, dtype = inputs.device, inputs.dtype
        # only weight gates were rewritten (e.g. the authors' CRZ): the inputs pass through, no copy per call
        if self._inputs_unchanged and inputs.shape[1] == len(self.input_columns):
            slot_inputs = inputs
        else:
            slot_inputs = inputs[:, self.input_columns.to(device)] * self.input_scales.to(device, dtype)
        slot_weights = weights[..., self.weight_columns.to(device)] * self.weight_scales.to(device, weights.dtype)
        return slot_inputs, slot_weights


class _Slots:
    """(column, scale) -> slot index, one table per source."""

    def __init__(self) -> None:
        self.index: dict[tuple[int, float], int] = {}

    def slot(self, column: int, scale: float) -> int:
        return self.index.setdefault((column, scale), len(self.index))

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        keys = list(self.index)
        columns = torch.tensor([column for column, _ in keys], dtype=torch.long)
        scales = torch.tensor([scale for _, scale in keys], dtype=torch.float64)
        return columns, scales


def lower(circuit: Circuit, native_gates: frozenset[str]) -> Lowering:
    """Rewrite the gates outside `native_gates` that have a rule; others stay (the runtime's check refuses them)."""
    if circuit.gate_names <= native_gates:
        return Lowering(circuit)
    slots = {"input": _Slots(), "weight": _Slots()}
    gates: list[Gate] = []

    def emit(name: str, wires: tuple[int, ...], angle: Angle | None, scale: float, depth: int) -> None:
        if name not in native_gates and depth < MAX_DEPTH:
            if name in RULES:
                for sub_name, sub_wires, factor in RULES[name](wires):
                    if factor is None:
                        emit(sub_name, sub_wires, None, 1.0, depth + 1)
                    else:
                        emit(sub_name, sub_wires, angle, scale * factor, depth + 1)
                return
            if name in FIXED_RULES and all(rotation in native_gates for rotation, _ in FIXED_RULES[name]):
                for rotation, value in FIXED_RULES[name]:
                    emit(rotation, wires, Angle.const(value), 1.0, depth + 1)
                return
        if angle is None:
            gates.append(Gate(name, wires))
        elif angle.source == "const":
            gates.append(Gate(name, wires, Angle.const(angle.value * scale)))
        else:
            slot = slots[angle.source].slot(angle.index, scale)
            gates.append(Gate(name, wires, Angle.input(slot) if angle.source == "input" else Angle.weight(slot)))

    for gate in circuit.gates:
        emit(gate.name, gate.wires, gate.angle, 1.0, 0)
    input_columns, input_scales = slots["input"].tensors()
    weight_columns, weight_scales = slots["weight"].tensors()
    lowered = Circuit(
        circuit.n_qubits, tuple(gates), n_inputs=len(input_columns), n_weights=len(weight_columns),
        readout=circuit.readout,
    )  # fmt: skip
    return Lowering(lowered, input_columns, input_scales, weight_columns, weight_scales)
