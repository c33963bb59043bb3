"""The small-circuit, large-batch path: RY-encoded product state, one fixed block, a quadratic read-out.

Why: an adapter runs a 4-6 qubit circuit on every token of a batch. QWTHN's default circuit is
RY(x_w) on every wire of |0...0>, then fixed (weight-only) gates, then <Z> or probabilities. For it
the whole evaluation is

    P = kron_w [cos(x_w / 2), sin(x_w / 2)]          [rows, 2^n], real
    psi = P @ V,  V = [Re U^T | Im U^T]               one real GEMM
    out = (psi * psi) @ R,  R = [S; S]                S: the read-out's sign (or identity) matrix

and its gradient has a closed form: d out / d x_w only needs P with wire w's bit flipped, because
d/dx [cos(x/2), sin(x/2)] = 1/2 [-sin(x/2), cos(x/2)] is the same pair rotated by 90 degrees. So
forward and backward are a few GEMMs and elementwise passes over [rows, 2^n], instead of autograd's
passes through every Kronecker factor, gate matrix and read-out (`_EncodedBlock`), in chunks of rows
that stay in cache. When a graph is being built (double backward) the backward runs unchunked in
differentiable ops from the saved inputs, so higher-order gradients stay exact.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from qwthn_emulator.plan import LocalOp, Plan

MAX_ENCODED_QUBITS = 6
"""Beyond 64 amplitudes the [rows, 2^n] product state stops being cheap next to op-by-op evaluation."""


@dataclass(frozen=True)
class EncodedShape:
    """Where a circuit of this path's shape reads its inputs.

    `first`: the input column of each wire's opening RY. `layers`: for each later per-row block (inputs
    re-encoded, as the authors' QTHA circuit does in every layer), the input column of each wire's RY
    (None: that wire has none in the block). Fixed blocks sit between them, and may close the circuit.
    """

    first: tuple[int, ...]
    layers: tuple[tuple[int | None, ...], ...] = ()


def encoded_shape(plan: Plan, n_qubits: int) -> EncodedShape | None:
    """The shape of `plan` when this path can run it, else None.

    Every wire starts with exactly one RY of an input angle; then fixed blocks (weight and constant
    angles only: one unitary each) alternate with per-row blocks made only of RY gates of input angles,
    at most one per wire.
    """
    if n_qubits > MAX_ENCODED_QUBITS or len(plan.core) != n_qubits:
        return None
    first = []
    for wire, op in enumerate(plan.core):
        column = _encoding_column(op.gates) if op.wire == wire else None
        if column is None:
            return None
        first.append(column)
    layers = []
    for position, block in enumerate(plan.blocks):
        if block.fusable != (position % 2 == 0):
            return None
        if block.fusable:
            continue
        columns: list[int | None] = [None] * n_qubits
        for op in block.ops:
            if not isinstance(op, LocalOp):
                return None
            for part in op.parts:
                column = _encoding_column(part.gates)
                if column is None:
                    return None
                columns[part.wire] = column
        layers.append(tuple(columns))
    return EncodedShape(tuple(first), tuple(layers))


def _encoding_column(gates: tuple) -> int | None:
    """The input column when `gates` is a single RY of an input angle."""
    if len(gates) != 1:
        return None
    (gate,) = gates
    if gate.name != "RY" or gate.angle is None or gate.angle.source != "input":
        return None
    return gate.angle.index


@functools.lru_cache(maxsize=32)
def _flip_matrix(n_qubits: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[2^n, n * 2^n]: P @ it gives, for each wire w, d P / d x_w (P's column k^w, signed, halved) side by side."""
    dim = 2**n_qubits
    matrix = torch.zeros(dim, n_qubits * dim, dtype=dtype, device=device)
    index = torch.arange(dim, device=device)
    for wire in range(n_qubits):
        mask = 1 << (n_qubits - 1 - wire)  # big-endian: wire 0 is the top bit
        sign = torch.where(index & mask == 0, -0.5, 0.5).to(dtype)
        matrix[index ^ mask, wire * dim + index] = sign
    return matrix


@functools.lru_cache(maxsize=32)
def _quarter_turn(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor([0.0, torch.pi / 2], dtype=dtype, device=device)


def product_state(angles: torch.Tensor) -> torch.Tensor:
    """kron_w [cos(x_w / 2), sin(x_w / 2)] as [rows, 2^n], wire 0 outermost."""
    # [rows, n, 2]: cos(x/2) and sin(x/2) = cos(x/2 - pi/2) in one op
    pairs = torch.cos(angles.unsqueeze(-1) * 0.5 - _quarter_turn(angles.dtype, angles.device))
    state = pairs[:, -1]
    for wire in range(angles.shape[1] - 2, -1, -1):
        state = (pairs[:, wire].unsqueeze(2) * state.unsqueeze(1)).reshape(angles.shape[0], -1)
    return state


CHUNK_ROWS = 4096
"""Rows evaluated together: each step's [rows, 2^n] intermediates then stay in cache between the few ops that
use them, instead of making a round trip to memory per op (at n = 4 on the 2-core EPYC here, 4,096-row
chunks took the backward from 73 ms to 34 ms at 65,536 rows; benchmarks/qnn_throughput.py --regime)."""


def _angle_gradient(state: torch.Tensor, grad_psi: torch.Tensor, mixing: torch.Tensor) -> torch.Tensor:
    """d out / d x_w = grad_state . (d P / d x_w) for every wire: d P / d x_w is P by a signed flip (one GEMM for
    all wires), grad_state = grad_psi @ mixing^T, and each wire's dot product is one batched matmul."""
    n_qubits = (state.shape[1] - 1).bit_length()
    flips = _flip_matrix(n_qubits, state.dtype, state.device)
    derivatives = (state @ flips).view(state.shape[0], n_qubits, state.shape[1])
    return torch.bmm(derivatives, (grad_psi @ mixing.T).unsqueeze(2)).squeeze(2)


class _EncodedBlock(torch.autograd.Function):
    """Forward and backward chunk by chunk of rows, keeping only the inputs: P and psi are cheaper to recompute
    in cache than to store and read back."""

    @staticmethod
    def forward(ctx, angles: torch.Tensor, mixing: torch.Tensor, readout: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(angles, mixing, readout)
        outputs = []
        for chunk in angles.split(CHUNK_ROWS):
            psi = product_state(chunk) @ mixing
            outputs.append((psi * psi) @ readout)
        return torch.cat(outputs) if len(outputs) != 1 else outputs[0]

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        angles, mixing, readout = ctx.saved_tensors
        doubled = readout.T * 2
        if torch.is_grad_enabled():  # double backward: the same maths unchunked, in differentiable ops
            state = product_state(angles)
            grad_psi = (grad @ doubled) * (state @ mixing)
            angle_grad = _angle_gradient(state, grad_psi, mixing) if ctx.needs_input_grad[0] else None
            return angle_grad, state.T @ grad_psi if ctx.needs_input_grad[1] else None, None
        grad_mixing = torch.zeros_like(mixing) if ctx.needs_input_grad[1] else None
        angle_grads = []
        for chunk, chunk_grad in zip(angles.split(CHUNK_ROWS), grad.split(CHUNK_ROWS), strict=True):
            state = product_state(chunk)
            grad_psi = (chunk_grad @ doubled) * (state @ mixing)
            if grad_mixing is not None:
                grad_mixing.addmm_(state.T, grad_psi)
            if ctx.needs_input_grad[0]:
                angle_grads.append(_angle_gradient(state, grad_psi, mixing))
        angle_grad = (torch.cat(angle_grads) if len(angle_grads) != 1 else angle_grads[0]) if angle_grads else None
        return angle_grad, grad_mixing, None


def evaluate_encoded(angles: torch.Tensor, unitary: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """Read-out of the block `unitary` applied to the RY-encoded product state of `angles` ([rows, n]).

    `signs` is the read-out as a matrix on probabilities: <Z> signs [2^n, outputs], or the identity.
    """
    if unitary.is_complex():
        mixing = torch.cat((unitary.real, unitary.imag)).T  # [2^n, 2 * 2^n]: real and imaginary parts side by side
        readout = torch.cat((signs, signs))
    else:
        mixing, readout = unitary.T, signs
    return _EncodedBlock.apply(angles, mixing, readout.to(mixing.dtype))


@functools.lru_cache(maxsize=32)
def _y_eigenbasis(n_qubits: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """V^{(x) n}, V = [|+i>, |-i>]: RY(t) = V diag(e^{-it/2}, e^{it/2}) V^dagger on every wire at once."""
    single = torch.tensor([[1, 1], [1j, -1j]], dtype=torch.complex128) / 2**0.5
    basis = single
    for _ in range(n_qubits - 1):
        basis = torch.kron(basis, single)
    return basis.to(dtype=dtype, device=device)


def _phase_state(angles: torch.Tensor, columns: tuple[int | None, ...], dtype: torch.dtype) -> torch.Tensor:
    """kron_w [e^{-i x_w / 2}, e^{i x_w / 2}] (1, 1 on a wire with no RY): a re-encoding layer in Y's eigenbasis."""
    pairs = []
    for column in columns:
        if column is None:
            pairs.append(torch.ones(angles.shape[0], 2, dtype=dtype, device=angles.device))
        else:
            half = angles[:, column : column + 1] * 0.5
            pairs.append(torch.polar(torch.ones_like(half), torch.cat((-half, half), dim=1)).to(dtype))
    state = pairs[-1]
    for pair in reversed(pairs[:-1]):
        state = (pair.unsqueeze(2) * state.unsqueeze(1)).reshape(angles.shape[0], -1)
    return state


def evaluate_reencoded(
    inputs: torch.Tensor, shape: EncodedShape, unitaries: list[torch.Tensor], signs: torch.Tensor
) -> torch.Tensor:
    """A circuit that re-encodes its inputs between fixed blocks, as a chain of [rows, 2^n] x [2^n, 2^n] GEMMs
    and elementwise per-row phases: each RY layer is V D(x) V^dagger, with V folded into the neighbouring
    blocks' unitaries, so no per-row dense matrix is ever built. `unitaries` are the fixed blocks in order,
    one more than the re-encoding layers (the identity where the circuit ends on one). Autograd
    differentiates it (every op is a plain torch op, so higher orders too).
    """
    complex_dtype = torch.complex128 if inputs.dtype == torch.float64 else torch.complex64
    n_qubits = len(shape.first)
    basis = _y_eigenbasis(n_qubits, complex_dtype, inputs.device)
    basis_h = basis.mH
    state = product_state(inputs[:, list(shape.first)]).to(complex_dtype)
    phases: dict[tuple, torch.Tensor] = {}
    for position, unitary in enumerate(unitaries):
        unitary = unitary.to(complex_dtype)
        if position > 0:
            unitary = unitary @ basis
        if position < len(unitaries) - 1:
            unitary = basis_h @ unitary
        state = state @ unitary.T
        if position < len(shape.layers):
            columns = shape.layers[position]
            if columns not in phases:  # the same inputs re-encoded again: one phase state serves every layer
                phases[columns] = _phase_state(inputs, columns, complex_dtype)
            state = state * phases[columns]
    probabilities = state.real.square() + state.imag.square()
    return probabilities @ signs
