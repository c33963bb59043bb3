"""Dense unitaries of fixed blocks, and applying them to a batch with one GEMM.

A block's unitary U is built by left-multiplying the identity op by op. The basis
index is the leading axis there, so each op is a plain matmul over a long contiguous
trailing axis (no permutation copies, unlike ops on [rows, 2^n] states) and costs
about a GEMM of 2^n x 2^n x 2^w: cheap next to applying U to a large batch.
"""

from __future__ import annotations

import torch

from qwthn_emulator.gates import Constant, GateMatrices, local_matrix, local_phases, promote
from qwthn_emulator.plan import LocalOp, MonomialOp, Op


def block_unitary(
    n_qubits: int, ops: tuple[Op, ...], gates: GateMatrices, constant: Constant, like: torch.Tensor
) -> torch.Tensor:
    """U = op_k ... op_1 as [2^n, 2^n], real while every op is real, on `like`'s device."""
    dim = 2**n_qubits
    unitary = torch.eye(dim, dtype=like.real.dtype, device=like.device)
    for op in ops:
        if isinstance(op, MonomialOp):
            if op.perm is not None:
                unitary = unitary.index_select(0, constant(op.perm))
            if op.signs is not None:
                unitary = unitary * constant(op.signs).unsqueeze(1)
            continue
        assert isinstance(op, LocalOp)
        size = 2 ** len(op.parts)
        view = unitary.reshape(2**op.first_wire, size, -1)
        if op.diagonal:
            unitary = view * local_phases(op, gates).view(1, size, 1)
        else:
            matrix, view = promote(local_matrix(op, gates), view)
            unitary = torch.bmm(matrix.expand(view.shape[0], size, size), view)  # matmul would fold with copies
        unitary = unitary.reshape(dim, dim)
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
