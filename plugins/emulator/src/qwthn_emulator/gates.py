"""Single-qubit gate matrices for a whole evaluation in a few batched ops, and their merged products.

Every rotation is exp(-i angle/2 P) = cos(angle/2) I + sin(angle/2) (-i P), so one
table of constant coefficient matrices turns a vector of angles into all gates' 2x2
matrices at once: a handful of kernels per evaluation instead of ~10 per gate, which
dominates small circuits. Gates whose angle is the same on every row get 1-row
matrices that broadcast; per-row gates get B rows. RY, H and X come back real, so a
state that only meets real gates stays real and the dense step can use a real GEMM.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from qwthn.circuit import Gate
from qwthn_emulator.plan import LocalOp, OneQubitOp

REAL_GATES = frozenset({"RY", "H", "X"})
_ROOT_HALF = math.sqrt(0.5)
_FIXED = {"H": [[_ROOT_HALF, _ROOT_HALF], [_ROOT_HALF, -_ROOT_HALF]], "X": [[0, 1], [1, 0]]}
_GENERATORS = {"RX": [[0, -1j], [-1j, 0]], "RY": [[0, -1], [1, 0]], "RZ": [[-1j, 0], [0, 1j]]}
"""-i P for each rotation: the sine coefficient."""

Constant = Callable[[torch.Tensor], torch.Tensor]
"""Moves a compile-time tensor to the evaluation device and dtype, cached."""


@dataclass(frozen=True, eq=False)
class _Table:
    """Gates sharing a row count, in slot order input angles, weight angles, the rest (constants, fixed gates).

    matrix = fixed + cos(angle/2) * cosine + sin(angle/2) * sine.
    """

    input_columns: torch.Tensor
    weight_columns: torch.Tensor
    constants: torch.Tensor
    fixed: torch.Tensor
    cosine: torch.Tensor
    sine: torch.Tensor

    @classmethod
    def build(cls, gates: list[Gate]) -> _Table:
        dtype = torch.complex128 if any(gate.name not in REAL_GATES for gate in gates) else torch.float64
        zero = [[0, 0], [0, 0]]
        rotations = [gate for gate in gates if gate.angle is not None]
        return cls(
            input_columns=torch.tensor([g.angle.index for g in rotations if g.angle.source == "input"]).long(),
            weight_columns=torch.tensor([g.angle.index for g in rotations if g.angle.source == "weight"]).long(),
            constants=torch.tensor(
                [
                    g.angle.value if g.angle is not None else 0.0
                    for g in gates
                    if g.angle is None or g.angle.source == "const"
                ],
                dtype=torch.float64,
            ),
            fixed=torch.tensor([_FIXED.get(g.name, zero) for g in gates], dtype=dtype).reshape(-1, 2, 2),
            cosine=torch.tensor([zero if g.angle is None else [[1, 0], [0, 1]] for g in gates], dtype=dtype).reshape(
                -1, 2, 2
            ),
            sine=torch.tensor([_GENERATORS.get(g.name, zero) for g in gates], dtype=dtype).reshape(-1, 2, 2),
        )

    def matrices(self, inputs: torch.Tensor, weights: torch.Tensor, rows: int, constant: Constant) -> torch.Tensor:
        """[rows, gates, 2, 2]."""
        parts = []
        if len(self.input_columns):
            parts.append(inputs.index_select(1, constant(self.input_columns)))
        if len(self.weight_columns):
            selected = weights.index_select(-1, constant(self.weight_columns))
            parts.append(selected.view(1, -1).expand(rows, -1) if selected.dim() == 1 else selected)
        if len(self.constants):
            parts.append(constant(self.constants).view(1, -1).expand(rows, -1))
        half = (torch.cat(parts, dim=1) / 2)[..., None, None]
        return constant(self.fixed) + torch.cos(half) * constant(self.cosine) + torch.sin(half) * constant(self.sine)


@dataclass(frozen=True, eq=False)
class GateTable:
    """Compile-time: where each distinct gate's matrix sits, in the shared (1-row) or the per-row table."""

    tables: tuple[_Table, _Table]
    slots: dict[Gate, tuple[int, int]]
    """gate -> (0 shared / 1 per-row, slot)."""

    @classmethod
    def build(cls, gates: Iterable[Gate], per_row: Callable[[Gate], bool]) -> GateTable:
        order = {"input": 0, "weight": 1}
        distinct = sorted(dict.fromkeys(gates), key=lambda g: order.get(g.angle.source, 2) if g.angle else 2)
        split = ([g for g in distinct if not per_row(g)], [g for g in distinct if per_row(g)])
        slots = {gate: (side, slot) for side, members in enumerate(split) for slot, gate in enumerate(members)}
        return cls((_Table.build(split[0]), _Table.build(split[1])), slots)


class GateMatrices:
    """Runtime: every gate's matrix for one evaluation, from two batched table evaluations."""

    def __init__(self, table: GateTable, inputs: torch.Tensor, weights: torch.Tensor, constant: Constant) -> None:
        self.table, self.inputs = table, inputs
        self._values = tuple(
            part.matrices(inputs, weights, rows, constant) if part.fixed.shape[0] else None
            for part, rows in zip(table.tables, (1, inputs.shape[0]), strict=True)
        )

    def matrix(self, gate: Gate) -> torch.Tensor:
        """[rows, 2, 2], real for RY, H, X."""
        side, slot = self.table.slots[gate]
        values = self._values[side]
        assert values is not None
        matrix = values[:, slot]
        return matrix.real if gate.name in REAL_GATES and matrix.is_complex() else matrix

    def phases(self, gate: Gate) -> torch.Tensor:
        """[rows, 2], the diagonal of an RZ."""
        return torch.diagonal(self.matrix(gate), dim1=-2, dim2=-1)


def promote(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring a real and a complex operand to the complex dtype (matmul does not mix them)."""
    if a.is_complex() and not b.is_complex():
        return a, b.to(a.dtype)
    if b.is_complex() and not a.is_complex():
        return a.to(b.dtype), b
    return a, b


def op_matrix(op: OneQubitOp, gates: GateMatrices) -> torch.Tensor:
    """The merged [rows, 2, 2] matrix of a non-diagonal op: the product of its gates, last gate leftmost."""
    matrix = gates.matrix(op.gates[0])
    for gate in op.gates[1:]:
        left, matrix = promote(gates.matrix(gate), matrix)
        matrix = left @ matrix
    return matrix


def op_phases(op: OneQubitOp, gates: GateMatrices) -> torch.Tensor:
    """The merged [rows, 2] diagonal of an all-diagonal op."""
    phases = gates.phases(op.gates[0])
    for gate in op.gates[1:]:
        phases = phases * gates.phases(gate)
    return phases


def local_matrix(op: LocalOp, gates: GateMatrices) -> torch.Tensor:
    """[rows, 2^w, 2^w]: Kronecker product of the parts' matrices, first (most significant) wire outermost."""
    matrix = op_matrix(op.parts[0], gates)
    for part in op.parts[1:]:
        factor = op_matrix(part, gates)
        size = matrix.shape[-1] * 2
        matrix = (matrix[:, :, None, :, None] * factor[:, None, :, None, :]).reshape(-1, size, size)
    return matrix


def local_phases(op: LocalOp, gates: GateMatrices) -> torch.Tensor:
    """[rows, 2^w]: Kronecker product of the parts' diagonals (all parts diagonal)."""
    phases = op_phases(op.parts[0], gates)
    for part in op.parts[1:]:
        phases = (phases[:, :, None] * op_phases(part, gates)[:, None, :]).reshape(-1, phases.shape[1] * 2)
    return phases
