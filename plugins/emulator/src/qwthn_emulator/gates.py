"""Single-qubit gate matrices for a whole evaluation in a few batched ops, and their merged products.

Every rotation is exp(-i angle/2 P) = cos(angle/2) I + sin(angle/2) (-i P), so one
table of constant coefficient matrices turns a vector of angles into all gates' 2x2
matrices at once, and each merged op gathers its gates from the table in one index.
That is a handful of kernels (and autograd nodes) per op instead of ~10 per gate,
which dominates small circuits. Gates whose angle is the same on every row get 1-row
matrices that broadcast; per-row gates get B rows. RY, H and X come back real, so a
state that only meets real gates stays real and the dense step can use a real GEMM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from qwthn.contract.circuit import Gate
from qwthn.contract.gates import GATES, PAULI
from qwthn_emulator.plan import LocalOp, OneQubitOp

ONE_QUBIT = {name: spec for name, spec in GATES.items() if spec.n_wires == 1}
REAL_GATES = frozenset(name for name, spec in ONE_QUBIT.items() if spec.real)
_IDENTITY = np.eye(2, dtype=complex)
_ZERO = np.zeros((2, 2), dtype=complex)


def _fixed_part(gate: Gate) -> np.ndarray:
    return _ZERO if gate.spec.parametrised else gate.spec.matrix(0.0)


def _sine_part(gate: Gate) -> np.ndarray:
    """-i P of a rotation exp(-i angle P / 2): the coefficient of sin(angle / 2)."""
    return -1j * PAULI[gate.spec.pauli] if gate.spec.pauli else _ZERO


Constant = Callable[[torch.Tensor], torch.Tensor]
"""Moves a compile-time tensor to the evaluation device and dtype, cached."""


@dataclass(frozen=True, eq=False)
class _Table:
    """Gates sharing a row count, in slot order input angles, weight angles, the rest; then one identity slot.

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
        rotations = [gate for gate in gates if gate.angle is not None]
        rest = [gate for gate in gates if gate.angle is None or gate.angle.source == "const"]

        def matrices(rows: list[np.ndarray]) -> torch.Tensor:
            stacked = torch.from_numpy(np.stack(rows)).to(torch.complex128)
            return (stacked if dtype.is_complex else stacked.real).to(dtype).reshape(-1, 2, 2)

        return cls(
            input_columns=torch.tensor([g.angle.index for g in rotations if g.angle.source == "input"]).long(),
            weight_columns=torch.tensor([g.angle.index for g in rotations if g.angle.source == "weight"]).long(),
            constants=torch.tensor([g.angle.value if g.angle else 0.0 for g in rest] + [0.0], dtype=torch.float64),
            fixed=matrices([_fixed_part(g) for g in gates] + [_IDENTITY]),
            cosine=matrices([_ZERO if g.angle is None else _IDENTITY for g in gates] + [_ZERO]),
            sine=matrices([_sine_part(g) for g in gates] + [_ZERO]),
        )

    def matrices(self, inputs: torch.Tensor, weights: torch.Tensor, rows: int, constant: Constant) -> torch.Tensor:
        """[rows, gates + 1, 2, 2]."""
        parts = [constant(self.constants).view(1, -1).expand(rows, -1)]
        if len(self.weight_columns):
            selected = weights.index_select(-1, constant(self.weight_columns))
            parts.insert(0, selected.view(1, -1).expand(rows, -1) if selected.dim() == 1 else selected)
        if len(self.input_columns):
            parts.insert(0, inputs.index_select(1, constant(self.input_columns)))
        half = (torch.cat(parts, dim=1) / 2)[..., None, None]
        return constant(self.fixed) + torch.cos(half) * constant(self.cosine) + torch.sin(half) * constant(self.sine)


@dataclass(frozen=True, eq=False)
class GateTable:
    """Compile-time: where each gate's matrix sits, in the shared (1-row, side 0) or per-row (side 1) table."""

    tables: tuple[_Table, _Table]
    slots: dict[Gate, tuple[int, int]]
    """gate -> (side, slot)."""
    local_slots: dict[LocalOp, tuple[int, torch.Tensor]]
    """op -> (side, [parts, longest chain] slots, short chains padded with the identity slot)."""

    @classmethod
    def build(cls, gates: Iterable[Gate], per_row: Callable[[Gate], bool], local_ops: Iterable[LocalOp]) -> GateTable:
        order = {"input": 0, "weight": 1}
        distinct = sorted(dict.fromkeys(gates), key=lambda g: order.get(g.angle.source, 2) if g.angle else 2)
        split = ([g for g in distinct if not per_row(g)], [g for g in distinct if per_row(g)])
        slots = {gate: (side, slot) for side, members in enumerate(split) for slot, gate in enumerate(members)}
        local_slots = {}
        for op in local_ops:
            side = slots[op.parts[0].gates[0]][0]  # all gates of one op come from one phase, so one side
            length = max(len(part.gates) for part in op.parts)
            rows = [
                [slots[g][1] for g in part.gates] + [len(split[side])] * (length - len(part.gates)) for part in op.parts
            ]
            local_slots[op] = (side, torch.tensor(rows).long())
        return cls((_Table.build(split[0]), _Table.build(split[1])), slots, local_slots)


class GateMatrices:
    """Runtime: every gate's matrix for one evaluation (two batched table evaluations), and merged products."""

    def __init__(self, table: GateTable, inputs: torch.Tensor, weights: torch.Tensor, constant: Constant) -> None:
        self.table, self.inputs, self.weights, self.constant = table, inputs, weights, constant
        self._computed: dict[int, torch.Tensor] = {}

    def _values(self, side: int) -> torch.Tensor:
        """One table's matrices, computed when first asked for (a path that never reads the per-row gates, like
        the encoded one, never pays for them)."""
        if side not in self._computed:
            rows = (1, self.inputs.shape[0])[side]
            self._computed[side] = self.table.tables[side].matrices(self.inputs, self.weights, rows, self.constant)
        return self._computed[side]

    def matrix(self, gate: Gate) -> torch.Tensor:
        """[rows, 2, 2], real for RY, H, X."""
        side, slot = self.table.slots[gate]
        matrix = self._values(side)[:, slot]
        return matrix.real if gate.name in REAL_GATES and matrix.is_complex() else matrix

    def op_matrix(self, op: OneQubitOp) -> torch.Tensor:
        """The merged [rows, 2, 2] matrix of a prefix op: the product of its gates, last gate leftmost."""
        matrix = self.matrix(op.gates[0])
        for gate in op.gates[1:]:
            left, matrix = promote(self.matrix(gate), matrix)
            matrix = left @ matrix
        return matrix

    def op_phases(self, op: OneQubitOp) -> torch.Tensor:
        """The merged [rows, 2] diagonal of an all-diagonal prefix op."""
        return torch.diagonal(self.op_matrix(op), dim1=-2, dim2=-1)

    def _part_products(self, op: LocalOp) -> torch.Tensor:
        """[rows, parts, 2, 2]: each part's chain product, all parts at once from one gather."""
        side, slots = self.table.local_slots[op]
        values = self._values(side)
        gathered = values.index_select(1, self.constant(slots.flatten())).unflatten(1, tuple(slots.shape))
        if values.is_complex() and all(g.name in REAL_GATES for part in op.parts for g in part.gates):
            gathered = gathered.real
        product = gathered[:, :, 0]
        for step in range(1, slots.shape[1]):
            product = gathered[:, :, step] @ product
        return product

    def local_matrix(self, op: LocalOp) -> torch.Tensor:
        """[rows, 2^w, 2^w]: Kronecker product of the parts' matrices, first (most significant) wire outermost."""
        parts = self._part_products(op)
        matrix = parts[:, 0]
        for index in range(1, parts.shape[1]):
            size = matrix.shape[-1] * 2
            matrix = (matrix[:, :, None, :, None] * parts[:, index, None, :, None, :]).reshape(-1, size, size)
        return matrix

    def local_phases(self, op: LocalOp) -> torch.Tensor:
        """[rows, 2^w]: Kronecker product of the parts' diagonals (all parts diagonal)."""
        parts = torch.diagonal(self._part_products(op), dim1=-2, dim2=-1)
        phases = parts[:, 0]
        for index in range(1, parts.shape[1]):
            phases = (phases[:, :, None] * parts[:, index, None, :]).reshape(-1, phases.shape[1] * 2)
        return phases


def promote(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring a real and a complex operand to the complex dtype (matmul does not mix them)."""
    if a.is_complex() and not b.is_complex():
        return a, b.to(a.dtype)
    if b.is_complex() and not a.is_complex():
        return a.to(b.dtype), b
    return a, b
