"""Gradients for backends that are not differentiable in torch.

Each rotation gate is exp(-i angle P / 2), so d<O>/d angle = (f(angle + pi/2) -
f(angle - pi/2)) / 2 exactly. An input or weight used by several gates needs a
shift per use, so the circuit is first rewritten with one slot per use
(`expand_uses`); gradients of the slots are summed back onto the original
inputs and weights. Every shifted copy of the whole batch goes to the backend
as ONE evaluate call (per-row weights), which is what keeps shot-based
devices usable: one job per training step, not one per sample and shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch

from qwthn.backend import QuantumBackend
from qwthn.circuit import Angle, Circuit

SHIFT = math.pi / 2


@dataclass(frozen=True)
class ExpandedCircuit:
    """`circuit` with one input/weight slot per gate use, and where each slot reads from."""

    circuit: Circuit
    input_sources: torch.Tensor
    weight_sources: torch.Tensor


def expand_uses(circuit: Circuit) -> ExpandedCircuit:
    gates, input_sources, weight_sources = [], [], []
    for gate in circuit.gates:
        angle = gate.angle
        if angle is not None and angle.source == "input":
            gate = replace(gate, angle=Angle.input(len(input_sources)))
            input_sources.append(angle.index)
        elif angle is not None and angle.source == "weight":
            gate = replace(gate, angle=Angle.weight(len(weight_sources)))
            weight_sources.append(angle.index)
        gates.append(gate)
    expanded = Circuit(
        circuit.n_qubits, tuple(gates), len(input_sources), len(weight_sources), readout=circuit.readout
    )
    as_index = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
    return ExpandedCircuit(expanded, as_index(input_sources), as_index(weight_sources))


class ParameterShiftFunction(torch.autograd.Function):
    """Forward: one backend call. Backward: one more call holding every shifted copy."""

    @staticmethod
    def forward(ctx: Any, inputs: torch.Tensor, weights: torch.Tensor, runner: ParameterShiftRunner) -> torch.Tensor:
        ctx.runner = runner
        ctx.save_for_backward(inputs, weights)
        return runner.evaluate(inputs, weights)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        inputs, weights = ctx.saved_tensors
        grad_inputs, grad_weights = ctx.runner.gradients(inputs, weights, grad_output)
        return grad_inputs, grad_weights, None


class ParameterShiftRunner:
    """Evaluates an expanded circuit on a backend and its parameter-shift gradients."""

    def __init__(self, backend: QuantumBackend, circuit: Circuit, *, shots: int | None, seed_source: Any) -> None:
        self.backend = backend
        self.expanded = expand_uses(circuit)
        self.compiled = backend.compile(self.expanded.circuit)
        self.shots = shots
        self.seed_source = seed_source

    def _slots(self, inputs: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        device = inputs.device
        return (
            inputs[:, self.expanded.input_sources.to(device)],
            weights[self.expanded.weight_sources.to(device)],
        )

    def _run(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.backend.evaluate(
            self.compiled, inputs, weights, shots=self.shots, seed=self.seed_source()
        ).to(inputs.dtype)

    def evaluate(self, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self._run(*self._slots(inputs, weights))

    def gradients(
        self, inputs: torch.Tensor, weights: torch.Tensor, grad_output: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        slot_inputs, slot_weights = self._slots(inputs, weights)
        batch, n_in = slot_inputs.shape
        n_w = slot_weights.shape[0]
        n_slots = n_in + n_w
        # Row block s*2 + {0: +shift, 1: -shift} shifts slot s; inputs first, then weights.
        shifts = torch.zeros(n_slots, 2, n_slots, dtype=inputs.dtype, device=inputs.device)
        eye = torch.eye(n_slots, dtype=inputs.dtype, device=inputs.device)
        shifts[:, 0], shifts[:, 1] = SHIFT * eye, -SHIFT * eye
        shifts = shifts.reshape(2 * n_slots, 1, n_slots)
        rows_in = (slot_inputs.unsqueeze(0) + shifts[..., :n_in]).reshape(-1, n_in)
        rows_w = (slot_weights + shifts[..., n_in:]).expand(-1, batch, -1).reshape(-1, n_w)
        values = self._run(rows_in, rows_w).reshape(n_slots, 2, batch, -1)
        derivative = (values[:, 0] - values[:, 1]) / 2  # [slot, batch, out]
        per_slot = torch.einsum("sbo,bo->sb", derivative, grad_output.to(derivative.dtype))
        grad_inputs = torch.zeros_like(inputs).index_add_(
            1, self.expanded.input_sources.to(inputs.device), per_slot[:n_in].transpose(0, 1)
        )
        grad_weights = torch.zeros_like(weights).index_add_(
            0, self.expanded.weight_sources.to(weights.device), per_slot[n_in:].sum(dim=1)
        )
        return grad_inputs, grad_weights
