"""Batched 2x2 gate matrices from symbolic angles, built with torch ops so autograd reaches every angle.

Matrices have a leading row dimension of 1 (same on every row) or B (per-row angles)
and broadcast against the state. RY, H and X stay real, so a state that only meets
real gates stays real and the dense step can use a real GEMM.
"""

from __future__ import annotations

import math

import torch

from qwthn.circuit import Angle, Gate
from qwthn_emulator.plan import LocalOp, OneQubitOp


class Angles:
    """Resolves an `Angle` to a [1] or [B] tensor: constants, input columns, shared or per-row weights."""

    def __init__(self, inputs: torch.Tensor, weights: torch.Tensor) -> None:
        self.inputs, self.weights = inputs, weights

    def __call__(self, angle: Angle) -> torch.Tensor:
        if angle.source == "input":
            return self.inputs[:, angle.index]
        if angle.source == "weight":
            return self.weights[angle.index].reshape(1) if self.weights.dim() == 1 else self.weights[:, angle.index]
        return torch.full((1,), angle.value, dtype=self.inputs.dtype, device=self.inputs.device)


def _fixed(values: list[float], angles: Angles) -> torch.Tensor:
    return torch.tensor(values, dtype=angles.inputs.dtype, device=angles.inputs.device).view(1, 2, 2)


def gate_matrix(gate: Gate, angles: Angles) -> torch.Tensor:
    """[rows, 2, 2] matrix of one single-qubit gate; real for RY, H, X."""
    if gate.name == "H":
        return _fixed([math.sqrt(0.5), math.sqrt(0.5), math.sqrt(0.5), -math.sqrt(0.5)], angles)
    if gate.name == "X":
        return _fixed([0.0, 1.0, 1.0, 0.0], angles)
    assert gate.angle is not None
    half = angles(gate.angle) / 2
    cos, sin = torch.cos(half), torch.sin(half)
    zero = torch.zeros_like(cos)
    if gate.name == "RY":
        return torch.stack((cos, -sin, sin, cos), dim=-1).view(-1, 2, 2)
    real = torch.stack((cos, zero, zero, cos), dim=-1)
    if gate.name == "RX":
        return torch.complex(real, torch.stack((zero, -sin, -sin, zero), dim=-1)).view(-1, 2, 2)
    return torch.complex(real, torch.stack((-sin, zero, zero, sin), dim=-1)).view(-1, 2, 2)  # RZ


def gate_phases(gate: Gate, angles: Angles) -> torch.Tensor:
    """[rows, 2] diagonal of an RZ gate: exp(-i angle/2), exp(+i angle/2)."""
    assert gate.angle is not None
    half = angles(gate.angle) / 2
    cos, sin = torch.cos(half), torch.sin(half)
    return torch.complex(torch.stack((cos, cos), dim=-1), torch.stack((-sin, sin), dim=-1))


def promote(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Bring a real and a complex operand to the complex dtype (matmul does not mix them)."""
    if a.is_complex() and not b.is_complex():
        return a, b.to(a.dtype)
    if b.is_complex() and not a.is_complex():
        return a.to(b.dtype), b
    return a, b


def op_matrix(op: OneQubitOp, angles: Angles) -> torch.Tensor:
    """The merged [rows, 2, 2] matrix of a non-diagonal op: the product of its gates, last gate leftmost."""
    matrix = gate_matrix(op.gates[0], angles)
    for gate in op.gates[1:]:
        left, matrix = promote(gate_matrix(gate, angles), matrix)
        matrix = left @ matrix
    return matrix


def op_phases(op: OneQubitOp, angles: Angles) -> torch.Tensor:
    """The merged [rows, 2] diagonal of an all-diagonal op."""
    phases = gate_phases(op.gates[0], angles)
    for gate in op.gates[1:]:
        phases = phases * gate_phases(gate, angles)
    return phases


def local_matrix(op: LocalOp, angles: Angles) -> torch.Tensor:
    """[rows, 2^w, 2^w]: Kronecker product of the parts' matrices, first (most significant) wire outermost."""
    matrix = _part_matrix(op.parts[0], angles)
    for part in op.parts[1:]:
        factor = _part_matrix(part, angles)
        size = matrix.shape[-1] * 2
        matrix = (matrix[:, :, None, :, None] * factor[:, None, :, None, :]).reshape(-1, size, size)
    return matrix


def local_phases(op: LocalOp, angles: Angles) -> torch.Tensor:
    """[rows, 2^w]: Kronecker product of the parts' diagonals (all parts diagonal)."""
    phases = op_phases(op.parts[0], angles)
    for part in op.parts[1:]:
        phases = (phases[:, :, None] * op_phases(part, angles)[:, None, :]).reshape(-1, phases.shape[1] * 2)
    return phases


def _part_matrix(part: OneQubitOp, angles: Angles) -> torch.Tensor:
    return torch.diag_embed(op_phases(part, angles)) if part.diagonal else op_matrix(part, angles)
