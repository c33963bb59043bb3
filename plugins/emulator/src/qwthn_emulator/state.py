"""State-vector kernels on [rows, 2^n] amplitudes, big-endian (wire 0 is the most significant bit).

Each op is one or two batched torch calls on a reshaped view of the state, so the
cost is a few memory passes per op and autograd differentiates them directly. Row
counts broadcast: a state or matrix with 1 row applies to every row of the other.
"""

from __future__ import annotations

import torch

from qwthn_emulator.gates import promote


def apply_matrix(state: torch.Tensor, n_qubits: int, first_wire: int, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a [rows, 2^w, 2^w] matrix to wires first_wire..first_wire+w-1: the state as [rows, left, 2^w, right].

    einsum with the shared side's row axis dropped lowers to one GEMM (or one bmm over
    rows); broadcasting matmul would instead run rows*left tiny 2x2 products, which is
    slow and, in its backward, collapses when other processes compete for the cores.
    """
    size = matrix.shape[-1]
    left, right = 2**first_wire, 2**n_qubits // size >> first_wire
    matrix, state = promote(matrix, state)
    view = state.reshape(state.shape[0], left, size, right)
    if matrix.shape[0] == 1:
        result = torch.einsum("ij,bljr->blir", matrix[0], view)
    elif view.shape[0] == 1:
        result = torch.einsum("bij,ljr->blir", matrix, view[0])
    else:
        result = torch.einsum("bij,bljr->blir", matrix, view)
    return result.reshape(-1, 2**n_qubits)


def apply_phases(state: torch.Tensor, n_qubits: int, first_wire: int, phases: torch.Tensor) -> torch.Tensor:
    """Multiply by a [rows, 2^w] diagonal on wires first_wire..first_wire+w-1."""
    size = phases.shape[-1]
    left, right = 2**first_wire, 2**n_qubits // size >> first_wire
    view = state.reshape(state.shape[0], left, size, right)
    return (view * phases.view(-1, 1, size, 1)).reshape(-1, 2**n_qubits)


def apply_monomial(state: torch.Tensor, perm: torch.Tensor | None, signs: torch.Tensor | None) -> torch.Tensor:
    """new[:, i] = signs[i] * old[:, perm[i]]: a run of CZ/CNOT in at most one gather and one multiply."""
    if perm is not None:
        state = state.index_select(1, perm)
    if signs is not None:
        state = state * signs
    return state


def product_state(amplitudes: list[torch.Tensor]) -> torch.Tensor:
    """Kronecker product of per-wire [rows, 2] amplitudes, wire 0 outermost.

    Built from the last wire outwards so each new factor is the outer axis: the backward
    reductions then run over a middle axis of 2 and a contiguous inner axis, both fast.
    """
    state = amplitudes[-1]
    for amplitude in reversed(amplitudes[:-1]):
        amplitude, state = promote(amplitude, state)
        state = (amplitude.unsqueeze(2) * state.unsqueeze(1)).reshape(-1, state.shape[1] * 2)
    return state


def probabilities(state: torch.Tensor) -> torch.Tensor:
    """|amplitude|^2 per basis state of a real, complex or planar state; differentiable everywhere (no abs)."""
    if state.dim() == 3:
        return _Probabilities.apply(state, 1)
    if state.is_complex():
        return _Probabilities.apply(torch.view_as_real(state), 2)
    return _Probabilities.apply(state.unsqueeze(1), 1)


class _Probabilities(torch.autograd.Function):
    """Sum of squares over the (re, im) axis `dim`, in two passes forward and one backward.

    autograd's square().sum() takes three passes each way, and its strided sum is slow.
    The backward is written in differentiable ops, so higher-order gradients still work.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, parts: torch.Tensor, dim: int) -> torch.Tensor:
        ctx.save_for_backward(parts)
        ctx.dim = dim
        first = parts.select(dim, 0)
        probs = first * first
        if parts.shape[dim] == 2:
            second = parts.select(dim, 1)
            probs.addcmul_(second, second)
        return probs

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (parts,) = ctx.saved_tensors
        return (parts * grad.unsqueeze(ctx.dim)).mul_(2), None
