"""A backend's values and gradients through `QuantumLayer`, against the exact emulator's autograd.

For plugin tests: whatever gradient path a backend declares (autograd, its own vjp, or the core's
parameter shift), the layer's outputs and its gradients with respect to inputs and weights must
equal the emulator's (complex128) within a tolerance, on a circuit and inputs the test chooses.
"""

from __future__ import annotations

import torch

from qwthn.contract.backend import QuantumBackend
from qwthn.contract.circuit import Circuit
from qwthn.plugins import host
from qwthn.runtime import QuantumLayer, Runtime

MEASURES = ("outputs", "d/d inputs", "d/d weights")


def outputs_and_gradients(
    backend: QuantumBackend, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor, cotangent: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """(outputs, d(outputs . cotangent)/d inputs, .../d weights) of a float64 QuantumLayer on `backend`."""
    layer = QuantumLayer(circuit, Runtime(backend)).double()
    with torch.no_grad():
        layer.weights.copy_(weights)
    x = inputs.clone().requires_grad_()
    outputs = layer(x)
    (outputs * cotangent).sum().backward()
    return outputs.detach(), x.grad, layer.weights.grad


def assert_gradients_match_emulator(
    backend: QuantumBackend, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor, cotangent: torch.Tensor,
    *, atol: float, smallest: float = 1e-3,
) -> None:  # fmt: skip
    """Each measure within `atol` of the emulator's; a reference below `smallest` everywhere would prove nothing."""
    emulator = host.create_backend("emulator", {"dtype": "complex128"})
    got = outputs_and_gradients(backend, circuit, inputs, weights, cotangent)
    want = outputs_and_gradients(emulator, circuit, inputs, weights, cotangent)
    for what, actual, expected in zip(MEASURES, got, want, strict=True):
        assert actual is not None and expected is not None, f"{what}: no gradient"
        assert expected.abs().max() > smallest, f"{what} is too small to test anything"
        torch.testing.assert_close(actual, expected, atol=atol, rtol=0, msg=lambda m, w=what: f"{w}: {m}")
