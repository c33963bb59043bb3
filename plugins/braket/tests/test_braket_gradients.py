"""Parameter-shift gradients through the Braket backend equal the emulator's autograd on the adapter's circuit."""

from __future__ import annotations

import pytest
import torch

from qwthn import Runtime, get_backend
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer


def _forward_backward(backend_name: str, options: dict, circuit, inputs: torch.Tensor, cotangent: torch.Tensor):
    layer = QuantumLayer(circuit, Runtime(get_backend(backend_name, **options)), init_seed=7).double()
    x = inputs.clone().requires_grad_()
    outputs = layer(x)
    (outputs * cotangent).sum().backward()
    return outputs.detach(), x.grad, layer.weights.grad


@pytest.mark.parametrize("device", ["braket_sv", "braket_dm"])
@pytest.mark.parametrize("readout", ["expval_z", "probs"])
def test_gradients_match_emulator_autograd(readout: str, device: str) -> None:
    circuit = build_qnn_circuit(3, 2, reupload=True, readout=readout)
    generator = torch.Generator().manual_seed(11)
    inputs = (torch.rand(2, 3, generator=generator, dtype=torch.float64) * 2 - 1) * torch.pi
    cotangent = torch.randn(2, circuit.n_outputs, generator=generator, dtype=torch.float64)
    got = _forward_backward("braket", {"device": device}, circuit, inputs, cotangent)
    want = _forward_backward("emulator", {"dtype": "complex128"}, circuit, inputs, cotangent)
    for what, actual, expected in zip(("outputs", "input gradients", "weight gradients"), got, want, strict=True):
        assert expected.abs().max() > 1e-3, f"{what} are all ~0: the comparison would prove nothing"
        torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0, msg=f"{what} differ ({readout}, {device})")
