"""Exact values and parameter-shift gradients through `QuantumLayer` match the emulator's autograd (1e-5)."""

from __future__ import annotations

import pytest
import torch

from qwthn import get_backend
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime

TOLERANCE = 1e-5


def _forward_backward(backend_name: str, options: dict, circuit, inputs: torch.Tensor, cotangent: torch.Tensor):
    runtime = Runtime(get_backend(backend_name, **options))
    layer = QuantumLayer(circuit, runtime, init_seed=7).double()
    x = inputs.clone().requires_grad_(True)
    outputs = layer(x)
    (outputs * cotangent).sum().backward()
    return outputs.detach(), x.grad, layer.weights.grad, runtime.tracker


@pytest.mark.parametrize("readout", ["expval_z", "probs"])
@pytest.mark.parametrize(
    "options", [{}, {"method": "density_matrix"}, {"backend": "aer:generic:5"}], ids=["statevector", "dm", "line"]
)
def test_gradients_match_emulator_autograd(readout, options):
    circuit = build_qnn_circuit(3, 2, reupload=True, readout=readout)
    generator = torch.Generator().manual_seed(3)
    inputs = (torch.rand(5, 3, generator=generator, dtype=torch.float64) * 2 - 1) * 3
    cotangent = torch.randn(5, circuit.n_outputs, generator=generator, dtype=torch.float64)

    out, grad_x, grad_w, tracker = _forward_backward("qiskit", options, circuit, inputs, cotangent)
    ref_out, ref_x, ref_w, _ = _forward_backward("emulator", {"dtype": "complex128"}, circuit, inputs, cotangent)

    torch.testing.assert_close(out, ref_out, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(grad_x, ref_x, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(grad_w, ref_w, atol=TOLERANCE, rtol=0)
    assert grad_w.abs().max() > 1e-2 and grad_x.abs().max() > 1e-2  # the comparison is not between zeros
    # forward: one backend call; backward: every shifted copy of the batch in one more call
    assert tracker.calls == 2, tracker.summary()
