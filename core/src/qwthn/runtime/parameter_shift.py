"""Gradients for backends that are neither differentiable in torch nor offer their own `vjp`.

Each gate's shift rule comes from the gate table: d f / d theta = sum_k c_k
f(theta + s_k), exactly (two terms for Pauli rotations, four for controlled
rotations). An input or weight used by several gates needs shifts per use, so
the circuit is first rewritten with one slot per use (`expand_uses`); gradients
of the slots are summed back onto the original inputs and weights. Every
shifted copy of the whole batch goes to the runtime as ONE execution (per-row
weights), which the runtime chunks to the backend's batch limit: one job per
training step, not one per sample and shift.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from qwthn.contract.circuit import Angle, Circuit
from qwthn.runtime.executor import PreparedCircuit, Runtime, SeedStream


@dataclass(frozen=True)
class ExpandedCircuit:
    """`circuit` with one input/weight slot per gate use, where each slot reads from, and its shift terms."""

    circuit: Circuit
    input_sources: torch.Tensor
    weight_sources: torch.Tensor
    term_slots: torch.Tensor
    """[terms] slot (inputs first, then weights) each shift term belongs to."""
    term_shifts: torch.Tensor
    term_coefficients: torch.Tensor


def expand_uses(circuit: Circuit) -> ExpandedCircuit:
    gates, input_sources, weight_sources, input_rules, weight_rules = [], [], [], [], []
    for gate in circuit.gates:
        angle = gate.angle
        if angle is not None and angle.source == "input":
            gate = replace(gate, angle=Angle.input(len(input_sources)))
            input_sources.append(angle.index)
            input_rules.append(gate.spec.shift_rule)
        elif angle is not None and angle.source == "weight":
            gate = replace(gate, angle=Angle.weight(len(weight_sources)))
            weight_sources.append(angle.index)
            weight_rules.append(gate.spec.shift_rule)
        gates.append(gate)
    expanded = Circuit(
        circuit.n_qubits, tuple(gates), len(input_sources), len(weight_sources), readout=circuit.readout
    )
    slots, shifts, coefficients = [], [], []
    for slot, rule in enumerate(input_rules + weight_rules):
        for coefficient, shift in rule.terms:
            slots.append(slot)
            shifts.append(shift)
            coefficients.append(coefficient)
    as_index = lambda values: torch.tensor(values, dtype=torch.long)  # noqa: E731
    return ExpandedCircuit(
        expanded, as_index(input_sources), as_index(weight_sources), as_index(slots),
        torch.tensor(shifts, dtype=torch.float64), torch.tensor(coefficients, dtype=torch.float64),
    )  # fmt: skip


class ParameterShift:
    """Evaluates a circuit through its expanded form, and its parameter-shift gradients."""

    def __init__(self, runtime: Runtime, circuit: Circuit) -> None:
        self.runtime = runtime
        self.expanded = expand_uses(circuit)
        self.prepared: PreparedCircuit = runtime.prepare(self.expanded.circuit)

    def _slots(self, inputs: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        device = inputs.device
        return inputs[:, self.expanded.input_sources.to(device)], weights[self.expanded.weight_sources.to(device)]

    def _run(self, inputs: torch.Tensor, weights: torch.Tensor, seeds: SeedStream) -> torch.Tensor:
        return self.runtime.execute(self.prepared, inputs, weights, seeds).to(inputs.dtype)

    def evaluate(self, inputs: torch.Tensor, weights: torch.Tensor, seeds: SeedStream) -> torch.Tensor:
        return self._run(*self._slots(inputs, weights), seeds)

    def gradients(
        self, inputs: torch.Tensor, weights: torch.Tensor, grad_output: torch.Tensor, seeds: SeedStream
    ) -> tuple[torch.Tensor, torch.Tensor]:
        slot_inputs, slot_weights = self._slots(inputs, weights)
        batch, n_in = slot_inputs.shape
        n_slots = n_in + slot_weights.shape[0]
        device, dtype = inputs.device, inputs.dtype
        slots = self.expanded.term_slots.to(device)
        n_terms = slots.shape[0]
        # Row block t shifts slot slots[t] by term_shifts[t]; inputs are slots 0..n_in-1, weights the rest.
        shifts = torch.zeros(n_terms, n_slots, dtype=dtype, device=device)
        shifts[torch.arange(n_terms, device=device), slots] = self.expanded.term_shifts.to(device, dtype)
        shifts = shifts.unsqueeze(1)
        rows_in = (slot_inputs.unsqueeze(0) + shifts[..., :n_in]).reshape(n_terms * batch, n_in)
        rows_w = (slot_weights + shifts[..., n_in:]).expand(-1, batch, -1).reshape(n_terms * batch, n_slots - n_in)
        values = self._run(rows_in, rows_w, seeds).reshape(n_terms, batch, -1)
        weighted = values * self.expanded.term_coefficients.to(device, values.dtype).view(-1, 1, 1)
        derivative = torch.zeros(n_slots, batch, values.shape[-1], dtype=values.dtype, device=device)
        derivative.index_add_(0, slots, weighted)  # [slot, batch, out]
        per_slot = torch.einsum("sbo,bo->sb", derivative, grad_output.to(derivative.dtype))
        grad_inputs = torch.zeros_like(inputs).index_add_(
            1, self.expanded.input_sources.to(device), per_slot[:n_in].transpose(0, 1).to(dtype)
        )
        grad_weights = torch.zeros_like(weights).index_add_(
            0, self.expanded.weight_sources.to(device), per_slot[n_in:].sum(dim=1).to(weights.dtype)
        )
        return grad_inputs, grad_weights


class ParameterShiftFunction(torch.autograd.Function):
    """Forward: one execution. Backward: one more holding every shifted copy."""

    @staticmethod
    def forward(
        ctx: Any, inputs: torch.Tensor, weights: torch.Tensor, shift: ParameterShift, seeds: SeedStream
    ) -> torch.Tensor:
        ctx.shift, ctx.seeds = shift, seeds
        ctx.save_for_backward(inputs, weights)
        return shift.evaluate(inputs, weights, seeds)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None]:
        inputs, weights = ctx.saved_tensors
        grad_inputs, grad_weights = ctx.shift.gradients(inputs, weights, grad_output, ctx.seeds)
        return grad_inputs, grad_weights, None, None


class BackendVJPFunction(torch.autograd.Function):
    """Forward: one execution. Backward: the backend's own vector-Jacobian product (e.g. adjoint)."""

    @staticmethod
    def forward(
        ctx: Any, inputs: torch.Tensor, weights: torch.Tensor, runtime: Runtime, prepared: PreparedCircuit,
        seeds: SeedStream,
    ) -> torch.Tensor:  # fmt: skip
        ctx.runtime, ctx.prepared = runtime, prepared
        ctx.save_for_backward(inputs, weights)
        return runtime.execute(prepared, inputs, weights, seeds).to(inputs.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs, weights = ctx.saved_tensors
        grad_inputs, grad_weights = ctx.runtime.vjp(ctx.prepared, inputs, weights, grad_output)
        return grad_inputs.to(inputs.dtype), grad_weights.to(weights.dtype), None, None, None
