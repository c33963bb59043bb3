"""Dense unitaries of fixed blocks, and applying them to a batch with one GEMM.

A block's unitary U starts as the Kronecker product of its leading single-qubit ops
(one elementwise product), then is left-multiplied op by op. The basis index is the
leading axis there, so each op is a plain matmul over a long contiguous trailing axis
(no permutation copies, unlike ops on [rows, 2^n] states) and costs about a GEMM of
2^n x 2^n x 2^w: cheap next to applying U to a large batch.
"""

from __future__ import annotations

import torch

from qwthn_emulator.gates import Constant, GateMatrices, promote
from qwthn_emulator.plan import LocalOp, MonomialOp, Op


def block_unitary(
    n_qubits: int, ops: tuple[Op, ...], gates: GateMatrices, constant: Constant, like: torch.Tensor
) -> torch.Tensor:
    """U = op_k ... op_1 as [2^n, 2^n], real while every op is real, on `like`'s device."""
    dim = 2**n_qubits
    leading = _leading_local_ops(ops)
    unitary = _kron_start(n_qubits, leading, gates, like)
    for op in ops[len(leading) :]:
        if isinstance(op, MonomialOp):
            if op.perm is not None:
                unitary = unitary.index_select(0, constant(op.perm))
            if op.signs is not None:
                unitary = unitary * constant(op.signs).unsqueeze(1)
            continue
        size = 2 ** len(op.parts)
        view = unitary.reshape(2**op.first_wire, size, -1)
        if op.diagonal:
            unitary = view * gates.local_phases(op).view(1, size, 1)
        else:
            matrix, view = promote(gates.local_matrix(op), view)
            unitary = torch.bmm(matrix.expand(view.shape[0], size, size), view)  # matmul would fold with copies
        unitary = unitary.reshape(dim, dim)
    return unitary


def _leading_local_ops(ops: tuple[Op, ...]) -> list[LocalOp]:
    """The ops before the first entangling one, on disjoint wires: together a Kronecker product."""
    leading: list[LocalOp] = []
    used: set[int] = set()
    for op in ops:
        if not isinstance(op, LocalOp):
            break
        wires = {part.wire for part in op.parts}
        if wires & used:
            break
        leading.append(op)
        used |= wires
    return leading


def _kron_start(n_qubits: int, leading: list[LocalOp], gates: GateMatrices, like: torch.Tensor) -> torch.Tensor:
    """The product of the leading ops as one Kronecker product (identity on other wires), not ops on the identity."""
    by_wire = {op.first_wire: op for op in leading}
    factors, wire = [], 0
    while wire < n_qubits:
        op = by_wire.get(wire)
        if op is None:
            factors.append(torch.eye(2, dtype=like.real.dtype, device=like.device))
            wire += 1
        else:
            factors.append(gates.local_matrix(op)[0])
            wire += len(op.parts)
    unitary = factors[0]
    for factor in factors[1:]:
        size = unitary.shape[0] * factor.shape[0]
        unitary = (unitary[:, None, :, None] * factor[None, :, None, :]).reshape(size, size)
    return unitary


def apply_unitary(state: torch.Tensor, unitary: torch.Tensor, *, planar: bool = False) -> torch.Tensor:
    """state @ U^T as one GEMM; a real state meets [Re U; Im U] in one real GEMM of half the flops.

    With `planar`, a real state's result stays real as [rows, 2, 2^n] (real parts, then
    imaginary parts): only `probabilities` reads it, and it skips the complex layout.
    """
    if unitary.is_complex() and not state.is_complex():
        dim = unitary.shape[0]
        if planar:
            return (state @ torch.cat((unitary.real, unitary.imag)).T).view(-1, 2, dim)
        interleaved = torch.view_as_real(unitary.T.contiguous()).reshape(dim, 2 * dim)
        return torch.view_as_complex((state @ interleaved).view(-1, dim, 2))
    state, unitary = promote(state, unitary)
    return state @ unitary.T
