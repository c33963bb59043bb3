"""`QuantumLayer`: a torch module that runs a circuit on the selected backend.

The layer owns the circuit weights and speaks to the backend in whole
batches. What backends do not declare, it handles once for all: the
capability check before compiling, little-endian probability reordering, and
parameter-shift gradients for backends that are not differentiable in torch.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from qwthn.backend import QuantumBackend
from qwthn.circuit import Circuit
from qwthn.parameter_shift import ParameterShiftFunction, ParameterShiftRunner


def little_to_big_endian(n_qubits: int) -> torch.Tensor:
    """Column permutation taking little-endian basis indices to big-endian ones."""
    indices = torch.arange(2**n_qubits)
    reversed_bits = torch.zeros_like(indices)
    for bit in range(n_qubits):
        reversed_bits |= ((indices >> bit) & 1) << (n_qubits - 1 - bit)
    return reversed_bits


class QuantumLayer(nn.Module):
    """inputs [..., n_inputs] angles -> read-outs [..., n_outputs], differentiable in both."""

    def __init__(
        self,
        circuit: Circuit,
        backend: QuantumBackend,
        *,
        shots: int | None = None,
        seed: int | None = None,
        trainable: bool = True,
    ) -> None:
        super().__init__()
        backend.check(circuit, shots)
        self.circuit, self.backend, self.shots = circuit, backend, shots
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        initial = (torch.rand(circuit.n_weights, generator=generator) * 2 - 1) * math.pi
        self.weights = nn.Parameter(initial, requires_grad=trainable)
        self._seeds = itertools.count(seed) if seed is not None else None
        if backend.capabilities.differentiable:
            self._compiled = backend.compile(circuit)
            self._shift_runner = None
        else:
            self._compiled = None
            self._shift_runner = ParameterShiftRunner(backend, circuit, shots=shots, seed_source=self._next_seed)
        needs_reorder = circuit.readout.kind == "probs" and backend.capabilities.qubit_ordering == "little"
        self._reorder = little_to_big_endian(circuit.n_qubits) if needs_reorder else None

    def _next_seed(self) -> int | None:
        """A fresh seed per backend call: reproducible runs without repeating the same shot noise."""
        return next(self._seeds) if self._seeds is not None else None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        leading = inputs.shape[:-1]
        flat = inputs.reshape(-1, inputs.shape[-1])
        weights = self.weights.to(flat.dtype)
        if self._shift_runner is not None:
            outputs = ParameterShiftFunction.apply(flat, weights, self._shift_runner)
        else:
            outputs = self.backend.evaluate(
                self._compiled, flat, weights, shots=self.shots, seed=self._next_seed()
            ).to(flat.dtype)
        if self._reorder is not None:
            outputs = outputs[:, self._reorder.to(outputs.device)]
        return outputs.reshape(*leading, outputs.shape[-1])

    def extra_repr(self) -> str:
        return (
            f"qubits={self.circuit.n_qubits}, gates={len(self.circuit.gates)}, "
            f"backend={self.backend.name}, shots={self.shots}"
        )
