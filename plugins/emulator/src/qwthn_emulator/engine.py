"""Runs a compiled plan: product-state prefix, then each block op by op or as one dense unitary."""

from __future__ import annotations

import torch

from qwthn_emulator.gates import Constant, GateMatrices
from qwthn_emulator.plan import Block, LocalOp, MonomialOp, OneQubitOp, Op, Plan
from qwthn_emulator.state import apply_matrix, apply_monomial, apply_phases, product_state
from qwthn_emulator.unitary import apply_unitary, block_unitary

MAX_FUSED_QUBITS = 12
"""A fused unitary has 4^n entries: 128 MiB in complex64 at n = 12; beyond that op by op always wins."""


def should_fuse(n_qubits: int, n_ops: int, rows: int, fuse_threshold: float) -> bool:
    """Dense when building (n_ops passes over 2^n rows) plus one GEMM beats n_ops passes over `rows` rows."""
    if fuse_threshold <= 0 or n_qubits > MAX_FUSED_QUBITS or n_ops == 0:
        return False
    return 2**n_qubits * (1 / rows + 1 / (fuse_threshold * n_ops)) < 1


def simulate(plan: Plan, n_qubits: int, gates: GateMatrices, constant: Constant, fuse_threshold: float) -> torch.Tensor:
    """The final state, [rows, 2^n] real or complex, or [rows, 2, 2^n] planar (see `apply_unitary`).

    rows is 1 when no per-row angle reached the state, else the batch size.
    """
    zero = torch.tensor([[1.0, 0.0]], dtype=gates.inputs.dtype, device=gates.inputs.device)
    amplitudes = [zero] * n_qubits
    for op in plan.core:
        amplitudes[op.wire] = _apply_to_pair(amplitudes[op.wire], op, gates)
    rows = max(amplitude.shape[0] for amplitude in amplitudes)
    blocks, tail_ops = list(plan.blocks), plan.tail_ops
    fuse_first = bool(blocks) and blocks[0].fusable
    fuse_first = fuse_first and should_fuse(n_qubits, len(tail_ops) + len(blocks[0].ops), rows, fuse_threshold)
    if fuse_first:
        blocks[0] = Block(tail_ops + blocks[0].ops, fusable=True)
    else:
        for op in plan.tails:
            amplitudes[op.wire] = _apply_to_pair(amplitudes[op.wire], op, gates)
    state = product_state(amplitudes)
    for position, block in enumerate(blocks):
        if position == 0:
            dense = fuse_first
        else:
            dense = block.fusable and should_fuse(n_qubits, len(block.ops), state.shape[0], fuse_threshold)
        if dense:
            unitary = block_unitary(n_qubits, block.ops, gates, constant, like=state)
            state = apply_unitary(state, unitary, planar=position == len(blocks) - 1)
        else:
            state = _run(state, n_qubits, block.ops, gates, constant)
    return state


def _apply_to_pair(amplitude: torch.Tensor, op: OneQubitOp, gates: GateMatrices) -> torch.Tensor:
    """One wire of the product-state prefix: a [rows, 2] amplitude pair is a one-qubit state."""
    if op.diagonal:
        return apply_phases(amplitude, 1, 0, gates.op_phases(op))
    return apply_matrix(amplitude, 1, 0, gates.op_matrix(op))


def _run(
    state: torch.Tensor, n_qubits: int, ops: tuple[Op, ...], gates: GateMatrices, constant: Constant
) -> torch.Tensor:
    """Ops in order, each a batched tensor op on the [rows, 2^n] state."""
    for op in ops:
        if isinstance(op, MonomialOp):
            perm = constant(op.perm) if op.perm is not None else None
            signs = constant(op.signs) if op.signs is not None else None
            state = apply_monomial(state, perm, signs)
        elif isinstance(op, LocalOp) and op.diagonal:
            state = apply_phases(state, n_qubits, op.first_wire, gates.local_phases(op))
        else:
            state = apply_matrix(state, n_qubits, op.first_wire, gates.local_matrix(op))
    return state
