"""The QTHA circuit gate by gate against PennyLane: values and gradients of <Z_i>, r = 2..6 qubits.

The PennyLane circuit is written here from the QTHA authors' published description (QLLM-peft,
`qpeft_vqc.py`, class VQC), not from qwthn's circuit builder: for each of L layers, RY(h_i) on
every wire; a ring of trainable CRZ, control i -> target (i + 1) mod r; trainable RY on every
wire; a ring of CRZ, control i -> target (i - 1) mod r; trainable RY; read out <Z_i>. It is fed
the same inputs and the same circuit weights as a `QTHALinear`'s `qnn`, whose weights are laid
out per layer as [CRZ ring 1 (slot i = control i) | RY (wire i) | CRZ ring 2 | RY], r each.
"""

from __future__ import annotations

import math

import numpy as np
import pennylane as qml
import pytest
import torch
from torch import nn

from qwthn import get_backend
from qwthn.contract.circuit import Circuit
from qwthn.methods.qtha import QTHAConfig, QTHALinear
from qwthn.methods.qtha.circuit import build_qtha_circuit
from qwthn.runtime import QuantumLayer, Runtime

BATCH = 4
TOLERANCE = 1e-5


def pennylane_qtha(n_wires: int, n_layers: int):
    """The authors' VQC as a PennyLane QNode: (h [B, r], weights [4 r L]) -> <Z_i> [B, r]."""
    device = qml.device("default.qubit", wires=n_wires)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def circuit(h: torch.Tensor, weights: torch.Tensor):
        for layer in range(n_layers):
            crz_forward, ry_first, crz_backward, ry_second = (
                weights[(4 * layer + block) * n_wires : (4 * layer + block + 1) * n_wires] for block in range(4)
            )
            for wire in range(n_wires):
                qml.RY(h[:, wire], wires=wire)
            # Every CRZ is diagonal, so the order inside a ring is irrelevant; plain wire order here.
            for wire in range(n_wires):
                qml.CRZ(crz_forward[wire], wires=[wire, (wire + 1) % n_wires])
            for wire in range(n_wires):
                qml.RY(ry_first[wire], wires=wire)
            for wire in range(n_wires):
                qml.CRZ(crz_backward[wire], wires=[wire, (wire - 1) % n_wires])
            for wire in range(n_wires):
                qml.RY(ry_second[wire], wires=wire)
        return [qml.expval(qml.PauliZ(wire)) for wire in range(n_wires)]

    def run(h: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return torch.stack(list(circuit(h, weights)), dim=-1)

    return run


def qtha_qnn(r: int, runtime: Runtime) -> QuantumLayer:
    """The QNN of a QTHA layer built through the public path, in float64."""
    layer = QTHALinear(nn.Linear(8, 8), QTHAConfig(r=r, seed=0), runtime).double()
    assert isinstance(layer.qnn, QuantumLayer)
    return layer.qnn


def compare_with_pennylane(qnn: QuantumLayer, r: int, seed: int) -> None:
    n_layers = r  # the authors' default L = r
    assert qnn.circuit.n_qubits == r and qnn.weights.shape == (4 * r * n_layers,)
    generator = torch.Generator().manual_seed(seed)
    h = (torch.rand(BATCH, r, generator=generator, dtype=torch.float64) * 2 - 1) * math.pi
    cotangent = torch.randn(BATCH, r, generator=generator, dtype=torch.float64)

    ours_h = h.clone().requires_grad_(True)
    qnn.weights.grad = None
    ours = qnn(ours_h)
    (ours * cotangent).sum().backward()

    theirs_h = h.clone().requires_grad_(True)
    theirs_weights = qnn.weights.detach().clone().requires_grad_(True)
    theirs = pennylane_qtha(r, n_layers)(theirs_h, theirs_weights)
    (theirs * cotangent).sum().backward()

    assert ours.shape == theirs.shape == (BATCH, r)
    # Not a trivially flat function: the read-outs and both gradients carry signal.
    assert theirs.detach().abs().max() > 1e-3
    assert theirs_h.grad.abs().max() > 1e-3 and theirs_weights.grad.abs().max() > 1e-3
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(ours_h.grad.numpy(), theirs_h.grad.numpy(), atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(qnn.weights.grad.numpy(), theirs_weights.grad.numpy(), atol=TOLERANCE, rtol=0)


def test_pennylane_crz_is_the_convention_of_the_description() -> None:
    """CRZ(t) = diag(1, 1, e^{-it/2}, e^{it/2}), control the most significant qubit (wires[0])."""
    theta = 0.83
    expected = np.diag([1, 1, np.exp(-0.5j * theta), np.exp(0.5j * theta)])
    np.testing.assert_allclose(qml.matrix(qml.CRZ(theta, wires=[0, 1])), expected, atol=1e-12)


@pytest.mark.parametrize("r", [2, 3, 4, 5, 6])
def test_qnn_matches_pennylane_on_the_emulator(r: int) -> None:
    runtime = Runtime(get_backend("emulator", dtype="complex128"))
    compare_with_pennylane(qtha_qnn(r, runtime), r, seed=100 + r)


def test_qnn_matches_pennylane_on_a_backend_running_crz_natively(install_plugin) -> None:
    """numpy-test executes CRZ itself (no lowering) and differentiates it with the four-term shift rule."""
    install_plugin("qwthn-test-backends", "0.1", "numpy-test", "numpy_backend")
    runtime = Runtime(get_backend("numpy-test"))
    qnn = qtha_qnn(3, runtime)
    assert "CRZ" in qnn._lowering.circuit.gate_names  # really run natively, not rewritten
    compare_with_pennylane(qnn, 3, seed=7)


@pytest.mark.parametrize(("r", "n_layers"), [(2, 1), (3, 3), (4, 2), (5, 5), (6, 1)])
def test_circuit_lists_4rL_weights_and_rL_input_encodings(r: int, n_layers: int) -> None:
    circuit: Circuit = build_qtha_circuit(r, n_layers)
    assert circuit.n_qubits == r and circuit.n_inputs == r
    assert circuit.n_weights == 4 * r * n_layers
    encodings = [gate for gate in circuit.gates if gate.angle is not None and gate.angle.source == "input"]
    assert len(encodings) == r * n_layers
    assert all(gate.name == "RY" and gate.wires == (gate.angle.index,) for gate in encodings)
    weighted = [gate for gate in circuit.gates if gate.angle is not None and gate.angle.source == "weight"]
    assert sorted(gate.angle.index for gate in weighted) == list(range(4 * r * n_layers))  # each weight once
    assert sum(gate.name == "CRZ" for gate in weighted) == 2 * r * n_layers
    assert sum(gate.name == "RY" for gate in weighted) == 2 * r * n_layers
    assert len(circuit.gates) == 5 * r * n_layers  # nothing else in the circuit
