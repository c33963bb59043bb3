"""Every gradient path of the `pennylane` backend against the emulator's autograd (complex128), within 1e-5.

Paths: default.qubit backprop (torch graphs, gradient="autograd"), default.qubit and lightning.qubit
adjoint (the backend's `vjp`), lightning.qubit through the core's parameter-shift, and default.mixed
backprop (density-matrix read-out). Circuits: the adapter's own (3 qubits, 2 layers, re-uploading),
with the <Z> read-out and a probs variant.
"""

from __future__ import annotations

import pytest
import torch

from qwthn import get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime
from qwthn.testing.gradients import assert_gradients_match_emulator

TOLERANCE = 1e-5

PATHS = {
    "default.qubit-backprop": ({}, "autograd"),
    "default.qubit-adjoint": ({"diff_method": "adjoint"}, "vjp"),
    "lightning.qubit-adjoint": ({"device": "lightning.qubit"}, "vjp"),
    "lightning.qubit-parameter-shift": (
        {"device": "lightning.qubit", "diff_method": "parameter-shift"},
        "parameter-shift",
    ),
    "default.mixed-backprop": ({"device": "default.mixed"}, "autograd"),
}


@pytest.mark.parametrize("readout", ["expval_z", "probs"])
@pytest.mark.parametrize("path", list(PATHS))
def test_gradients_match_the_emulator(path, readout):
    options, declared = PATHS[path]
    backend = get_backend("pennylane", **options)
    assert backend.capabilities.gradient == declared
    circuit = build_qnn_circuit(3, 2, reupload=True, readout=readout)
    generator = torch.Generator().manual_seed(3)
    inputs = torch.rand(6, 3, generator=generator, dtype=torch.float64) * 2 - 1
    cotangent = torch.randn(6, circuit.n_outputs, generator=generator, dtype=torch.float64)
    weights = (torch.rand(circuit.n_weights, generator=generator, dtype=torch.float64) * 2 - 1) * 3
    assert_gradients_match_emulator(backend, circuit, inputs, weights, cotangent, atol=TOLERANCE)


@pytest.mark.parametrize("device", ["lightning.qubit", "default.qubit"])
@pytest.mark.parametrize("readout", ["expval_z", "probs"])
def test_adjoint_vjp_with_per_row_weights_matches_backprop(device, readout):
    """vjp() for weights [B, W] (what chunked parameter-shift-style calls send), controlled rotations included."""
    gates = (
        Gate("RY", (0,), Angle.input(0)), Gate("H", (1,)), Gate("CRZ", (0, 1), Angle.weight(0)),
        Gate("CRX", (1, 2), Angle.weight(1)), Gate("RX", (2,), Angle.input(1)), Gate("CRY", (2, 0), Angle.weight(2)),
        Gate("CNOT", (0, 2)), Gate("RZ", (1,), Angle.weight(0)), Gate("RY", (1,), Angle.input(0)),
    )  # fmt: skip
    circuit = Circuit(3, gates, 2, 3, Readout(readout, (2, 0) if readout == "expval_z" else ()))
    generator = torch.Generator().manual_seed(5)
    inputs = torch.rand(4, 2, generator=generator, dtype=torch.float64) * 3
    weights = torch.rand(4, 3, generator=generator, dtype=torch.float64) * 3
    cotangent = torch.randn(4, circuit.n_outputs, generator=generator, dtype=torch.float64)

    reference = get_backend("pennylane")  # default.qubit backprop
    x, w = inputs.clone().requires_grad_(), weights.clone().requires_grad_()
    (reference.evaluate(reference.compile(circuit), x, w) * cotangent).sum().backward()

    backend = get_backend("pennylane", device=device, diff_method="adjoint")
    grad_inputs, grad_weights = backend.vjp(backend.compile(circuit), inputs, weights, cotangent)
    assert grad_inputs.shape == inputs.shape and grad_weights.shape == weights.shape
    assert (grad_inputs - x.grad).abs().max() < TOLERANCE
    assert (grad_weights - w.grad).abs().max() < TOLERANCE
    assert w.grad.abs().max() > 1e-2

    shared_inputs, shared_weights = backend.vjp(backend.compile(circuit), inputs, weights[0], cotangent)
    w0 = weights[0].clone().requires_grad_()
    x.grad = None
    (reference.evaluate(reference.compile(circuit), x, w0) * cotangent).sum().backward()
    assert shared_weights.shape == (3,)
    assert (shared_weights - w0.grad).abs().max() < TOLERANCE
    assert (shared_inputs - x.grad).abs().max() < TOLERANCE


def test_vjp_of_a_circuit_without_parameters_is_zero():
    backend = get_backend("pennylane", device="lightning.qubit")
    circuit = Circuit(2, (Gate("H", (0,)), Gate("CNOT", (0, 1))), 1, 1, Readout("probs"))
    inputs, weights = torch.ones(3, 1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    grad_inputs, grad_weights = backend.vjp(backend.compile(circuit), inputs, weights, torch.ones(3, 4))
    assert torch.equal(grad_inputs, torch.zeros(3, 1, dtype=torch.float64))
    assert torch.equal(grad_weights, torch.zeros(1, dtype=torch.float64))


def test_float32_inputs_keep_their_dtype_and_gradients_flow():
    circuit = build_qnn_circuit(3, 2, reupload=True)
    layer = QuantumLayer(circuit, Runtime(get_backend("pennylane")), init_seed=1)  # float32 weights
    inputs = torch.rand(5, 3, requires_grad=True)
    outputs = layer(inputs)
    assert outputs.dtype == torch.float32
    outputs.sum().backward()
    assert inputs.grad is not None and inputs.grad.abs().max() > 1e-3
    assert layer.weights.grad is not None and layer.weights.grad.abs().max() > 1e-3
