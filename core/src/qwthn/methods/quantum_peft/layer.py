"""The Quantum-PEFT-style layer: singular vectors from circuit unitaries, singular values trained from zero.

Interpreted from the paper (arXiv 2503.05431; no code is public): the update is U diag(s) V^T with U, V
on the Stiefel manifold, computed from Pauli-parameterised unitaries whose parameter count grows as
log of the width. Ours: each unitary is a hardware-efficient real circuit (RY on every qubit, then a
CNOT chain, `layers` times) on ceil(log2 width) qubits, simulated classically on the first r basis
states; its first `width` rows are taken (orthonormal columns when the width is a power of two). The
paper's general form (a quantum Shannon decomposition) reaches every unitary; this ansatz does not.
s starts at zero, so the update starts at zero; the angles start uniform in [-pi, pi].
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from qwthn.methods.base import AdapterLayer
from qwthn.methods.quantum_peft.config import QuantumPEFTConfig
from qwthn.runtime.executor import Runtime


def qubits_for(width: int) -> int:
    return max(1, math.ceil(math.log2(width)))


def unitary_columns(angles: torch.Tensor, columns: int) -> torch.Tensor:
    """[2^n, columns]: the circuit's unitary applied to the first `columns` basis states (big-endian wires).

    angles [layers, n]: RY(angle) on each wire in order, then CNOT(w, w + 1) for w = 0..n-2, per layer.
    """
    layers, n = angles.shape
    states = torch.eye(2**n, columns, dtype=angles.dtype, device=angles.device).reshape(*([2] * n), columns)
    for layer in range(layers):
        for wire in range(n):
            cos, sin = torch.cos(angles[layer, wire] / 2), torch.sin(angles[layer, wire] / 2)
            zero, one = states.select(wire, 0), states.select(wire, 1)
            states = torch.stack([cos * zero - sin * one, sin * zero + cos * one], dim=wire)
        for wire in range(n - 1):
            zero, one = states.select(wire, 0), states.select(wire, 1)
            states = torch.stack([zero, one.flip(wire)], dim=wire)  # target wire + 1 is axis `wire` of `one`
    return states.reshape(2**n, columns)


class QuantumPEFTLinear(AdapterLayer):
    """base(x) + scale * U diag(s) V^T x."""

    branches: ClassVar[dict[str, str]] = {"left": "U circuit", "right": "V circuit", "singular": "singular values"}

    def __init__(self, base_layer: nn.Linear, config: QuantumPEFTConfig, runtime: Runtime) -> None:
        super().__init__(base_layer, config, runtime)
        self.r, self.scale = min(config.r, self.in_features, self.out_features), config.scale
        generator = torch.Generator().manual_seed(config.seed) if config.seed is not None else None
        uniform = lambda n: (torch.rand(config.layers, n, generator=generator) * 2 - 1) * math.pi  # noqa: E731
        self.left = nn.Parameter(uniform(qubits_for(self.out_features)))
        self.right = nn.Parameter(uniform(qubits_for(self.in_features)))
        self.singular = nn.Parameter(torch.zeros(self.r))
        self.to(base_layer.weight.device)

    def factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(U [out, r], V [in, r])."""
        u = unitary_columns(self.left, self.r)[: self.out_features]
        v = unitary_columns(self.right, self.r)[: self.in_features]
        return u, v

    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        u, v = self.factors()
        return ((inputs @ v) * self.singular) @ u.T * self.scale

    def delta_weight(self) -> torch.Tensor:
        with torch.no_grad():
            u, v = self.factors()
            return (u * self.singular) @ v.T * self.scale
