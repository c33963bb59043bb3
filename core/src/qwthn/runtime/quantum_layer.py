"""`QuantumLayer`: a torch module that runs a circuit through a shared `Runtime`.

The layer owns the circuit weights and its own stream of shot seeds; the runtime
owns the backend, the compiled circuit and the execution policy. Gates the
backend does not execute are rewritten by the runtime (`lowering`); the layer
binds its inputs and weights to the rewritten circuit's slots. Gradients come
from wherever the backend's capabilities say: torch autograd, the backend's own
`vjp`, or the core's parameter-shift rule; with a forward-only runtime, from
nowhere: the outputs are constants and the weights frozen, as when the QTHA
authors ran their chip. Little-endian probabilities are reordered here, once
for every backend.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qwthn.contract.circuit import Circuit
from qwthn.runtime.executor import Runtime
from qwthn.runtime.parameter_shift import BackendVJPFunction, ParameterShift, ParameterShiftFunction


class QuantumLayer(nn.Module):
    """inputs [..., n_inputs] angles -> read-outs [..., n_outputs], differentiable in both."""

    def __init__(
        self, circuit: Circuit, runtime: Runtime, *, init_seed: int | None = None, trainable: bool = True
    ) -> None:
        super().__init__()
        self.circuit, self.runtime = circuit, runtime
        generator = torch.Generator().manual_seed(init_seed) if init_seed is not None else None
        initial = (torch.rand(circuit.n_weights, generator=generator) * 2 - 1) * math.pi
        self.weights = nn.Parameter(initial, requires_grad=trainable and not runtime.forward_only)
        self._seeds = runtime.seed_stream()
        self._gradient = "none" if runtime.forward_only else runtime.capabilities.gradient
        self._lowering = runtime.lower(circuit)
        if self._gradient == "parameter-shift":
            self._shift = ParameterShift(runtime, self._lowering.circuit)
            self._prepared = self._shift.prepared
        else:
            self._prepared = runtime.prepare(self._lowering.circuit)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        leading = inputs.shape[:-1]
        flat = inputs.reshape(math.prod(leading), inputs.shape[-1])
        flat, weights = self._lowering.bind(flat, self.weights.to(flat.dtype))
        if self._gradient == "parameter-shift":
            outputs = ParameterShiftFunction.apply(flat, weights, self._shift, self._seeds)
        elif self._gradient == "none":
            with torch.no_grad():
                outputs = self.runtime.execute(self._prepared, flat, weights, self._seeds).to(flat.dtype)
        elif self._gradient == "vjp":
            outputs = BackendVJPFunction.apply(flat, weights, self.runtime, self._prepared, self._seeds)
        else:
            outputs = self.runtime.execute(self._prepared, flat, weights, self._seeds).to(flat.dtype)
        reorder = self._prepared.reorder
        if reorder is not None:
            outputs = outputs[:, reorder.to(outputs.device)]
        return outputs.reshape(*leading, outputs.shape[-1])

    def extra_repr(self) -> str:
        return (
            f"qubits={self.circuit.n_qubits}, gates={len(self.circuit.gates)}, "
            f"backend={self.runtime.backend.name}, shots={self.runtime.shots}"
        )
