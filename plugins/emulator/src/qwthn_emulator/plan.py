"""Compile-time analysis: a gate list becomes a product-state prefix and blocks of merged ops.

Done once per circuit, so evaluation is a short list of batched tensor ops:

- prefix: from |0...0>, single-qubit gates on a wire that no two-qubit gate has touched yet
  act on a [rows, 2] amplitude pair per wire, nearly free; the full state is built
  by Kronecker products only when the first entangling gate arrives. Each wire's
  prefix is split into a `core` (up to its last per-row gate) and a constant/weight
  `tail`, which the engine folds into the first dense block when it fuses one.
- blocks: the rest, scheduled along the gate dependency graph (gates on disjoint wires
  commute) into alternating blocks of fixed gates (same angle on every row: `fusable`
  into one dense unitary) and per-row gates. Within a block, runs of single-qubit gates
  on a wire merge into one 2x2 matrix, those on up to `MAX_LOCAL_WIRES` adjacent wires
  into one Kronecker-product op (a pass over the state costs about the same for a 2x2
  as for a 16x16 matrix, so this cuts passes up to 4x), and runs of CZ/CNOT compose
  into one basis permutation with signs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import torch

from qwthn.contract.circuit import Gate
from qwthn.contract.gates import GATES

DIAGONAL_GATES = frozenset(name for name, spec in GATES.items() if spec.n_wires == 1 and spec.diagonal)
MAX_LOCAL_WIRES = 4


@dataclass(frozen=True)
class OneQubitOp:
    """Consecutive single-qubit gates on one wire, applied as one 2x2 matrix (a phase pair if all diagonal)."""

    wire: int
    gates: tuple[Gate, ...]

    @property
    def diagonal(self) -> bool:
        return all(gate.name in DIAGONAL_GATES for gate in self.gates)


@dataclass(frozen=True)
class LocalOp:
    """Single-qubit ops on adjacent wires (ascending), applied together as the Kronecker product of their matrices."""

    parts: tuple[OneQubitOp, ...]

    @property
    def first_wire(self) -> int:
        return self.parts[0].wire

    @property
    def diagonal(self) -> bool:
        return all(part.diagonal for part in self.parts)


@dataclass(frozen=True, eq=False)
class MonomialOp:
    """CZ/CNOT gates composed into `new[:, i] = signs[i] * old[:, perm[i]]` (None: identity / all +1)."""

    perm: torch.Tensor | None
    signs: torch.Tensor | None


Op = LocalOp | MonomialOp


@dataclass(frozen=True)
class Block:
    """Ops applied in order; a `fusable` block has no per-row angle, so it is one unitary for the whole batch."""

    ops: tuple[Op, ...]
    fusable: bool


@dataclass(frozen=True)
class Plan:
    core: tuple[OneQubitOp, ...]
    tails: tuple[OneQubitOp, ...]
    tail_ops: tuple[LocalOp, ...]
    """The tails grouped as block ops, for folding into a first block that runs as a dense unitary."""
    blocks: tuple[Block, ...]

    @property
    def local_ops(self) -> list[LocalOp]:
        return [op for op in self.tail_ops + tuple(op for b in self.blocks for op in b.ops) if isinstance(op, LocalOp)]


def build_plan(gates: tuple[Gate, ...], n_qubits: int, per_row: Callable[[Gate], bool]) -> Plan:
    """`per_row(gate)` says whether the gate's angle differs between rows of the batch."""
    core, tails, rest = _split_prefix(gates, n_qubits, per_row)
    return Plan(core, tails, tuple(_group_adjacent(list(tails))), _schedule(rest, n_qubits, per_row))


def _split_prefix(
    gates: tuple[Gate, ...], n_qubits: int, per_row: Callable[[Gate], bool]
) -> tuple[tuple[OneQubitOp, ...], tuple[OneQubitOp, ...], list[Gate]]:
    chains: list[list[Gate]] = [[] for _ in range(n_qubits)]
    entangled = [False] * n_qubits
    rest: list[Gate] = []
    for gate in gates:
        if len(gate.wires) == 1 and not entangled[gate.wires[0]]:
            chains[gate.wires[0]].append(gate)
        else:
            for wire in gate.wires:
                entangled[wire] = True
            rest.append(gate)
    core, tails = [], []
    for wire, chain in enumerate(chains):
        cut = max((position + 1 for position, gate in enumerate(chain) if per_row(gate)), default=0)
        if cut:
            core.append(OneQubitOp(wire, tuple(chain[:cut])))
        if chain[cut:]:
            tails.append(OneQubitOp(wire, tuple(chain[cut:])))
    return tuple(core), tuple(tails), rest


def _schedule(gates: list[Gate], n_qubits: int, per_row: Callable[[Gate], bool]) -> tuple[Block, ...]:
    """Alternate fixed and per-row phases, each taking every gate it can reach without waiting on the other."""
    queues: list[deque[int]] = [deque() for _ in range(n_qubits)]
    for index, gate in enumerate(gates):
        for wire in gate.wires:
            queues[wire].append(index)
    blocks: list[Block] = []
    remaining, varying = len(gates), False
    while remaining:
        ops, consumed = _emit_phase(gates, queues, n_qubits, lambda gate, v=varying: per_row(gate) == v)
        if ops:
            blocks.append(Block(tuple(ops), fusable=not varying))
        remaining -= consumed
        varying = not varying
    return _drop_final_signs(blocks)


def _drop_final_signs(blocks: list[Block]) -> tuple[Block, ...]:
    """CZ-only runs at the very end only flip signs of amplitudes: no read-out (probabilities) can see them."""
    while blocks:
        ops = list(blocks[-1].ops)
        while ops and isinstance(ops[-1], MonomialOp) and ops[-1].perm is None:
            ops.pop()
        if ops:
            blocks[-1] = Block(tuple(ops), blocks[-1].fusable)
            break
        blocks.pop()
    return tuple(blocks)


def _emit_phase(
    gates: list[Gate], queues: list[deque[int]], n_qubits: int, in_phase: Callable[[Gate], bool]
) -> tuple[list[Op], int]:
    ops: list[Op] = []
    consumed = 0
    while True:
        progress = False
        chains: list[OneQubitOp] = []
        for wire, queue in enumerate(queues):
            chain = []
            while queue and len(gates[queue[0]].wires) == 1 and in_phase(gates[queue[0]]):
                chain.append(gates[queue.popleft()])
            if chain:
                chains.append(OneQubitOp(wire, tuple(chain)))
                consumed, progress = consumed + len(chain), True
        ops.extend(_group_adjacent(chains))
        group = []
        while (index := _ready_two_qubit(gates, queues, in_phase)) is not None:
            group.append(gates[index])
            for wire in gates[index].wires:
                queues[wire].popleft()
        if group:
            monomial = _monomial(group, n_qubits)
            if monomial is not None:
                ops.append(monomial)
            consumed, progress = consumed + len(group), True
        if not progress:
            return ops, consumed


def _group_adjacent(chains: list[OneQubitOp]) -> list[LocalOp]:
    """Chains on distinct wires commute; pack runs of adjacent wires into ops of up to MAX_LOCAL_WIRES."""
    groups: list[list[OneQubitOp]] = []
    for chain in chains:  # ascending wires
        last = groups[-1] if groups else None
        if last and last[-1].wire == chain.wire - 1 and len(last) < MAX_LOCAL_WIRES:
            last.append(chain)
        else:
            groups.append([chain])
    return [LocalOp(tuple(group)) for group in groups]


def _ready_two_qubit(gates: list[Gate], queues: list[deque[int]], in_phase: Callable[[Gate], bool]) -> int | None:
    for queue in queues:
        if queue:
            gate = gates[queue[0]]
            if len(gate.wires) == 2 and in_phase(gate) and all(queues[w][0] == queue[0] for w in gate.wires):
                return queue[0]
    return None


def _local_monomial(gate: Gate) -> tuple[torch.Tensor, torch.Tensor]:
    """The gate-table matrix as new[i] = signs[i] * old[perm[i]]; only signed permutations (CZ, CNOT) qualify."""
    matrix = torch.from_numpy(gate.spec.matrix(0.0))
    perm = matrix.abs().argmax(dim=1)
    signs = matrix[torch.arange(4), perm]
    signed_permutation = bool((torch.count_nonzero(matrix, dim=1) == 1).all()) and bool((signs.real.abs() == 1).all())
    if gate.spec.parametrised or not signed_permutation:
        raise ValueError(f"emulator: {gate.name} is not a fixed signed permutation; it cannot join a monomial op")
    return perm, signs.real.to(torch.float64)


def _monomial(gates: list[Gate], n_qubits: int) -> MonomialOp | None:
    """Compose (perm, signs) left to right: after (P1, c1) then (P2, c2), P = P1[P2] and c = c2 * c1[P2]."""
    index = torch.arange(2**n_qubits)
    perm, signs = index, torch.ones(2**n_qubits, dtype=torch.float64)
    for gate in gates:
        gate_perm, gate_signs = _local_monomial(gate)
        shifts = [n_qubits - 1 - wire for wire in gate.wires]
        local = ((index >> shifts[0]) & 1) << 1 | ((index >> shifts[1]) & 1)  # the gate's 4x4 index of each row
        source = gate_perm[local]
        cleared = index & ~((1 << shifts[0]) | (1 << shifts[1]))
        step = cleared | ((source >> 1) & 1) << shifts[0] | (source & 1) << shifts[1]
        perm, signs = perm[step], gate_signs[local] * signs[step]
    identity = torch.equal(perm, index)
    positive = bool((signs > 0).all())
    if identity and positive:
        return None
    return MonomialOp(None if identity else perm, None if positive else signs)
