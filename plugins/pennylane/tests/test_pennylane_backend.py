"""The `pennylane` backend's translation, batching, ordering, shots, noise and device handling.

Each test checks one claim the backend makes: the gate matrices are the gate table's, probabilities
are big-endian, a batch is ONE `qml.execute` call of ONE broadcast tape, shots are a function of the
seed, noise channels act as PennyLane documents them, and any installed device (including a
third-party one registered only through PennyLane's device registry) runs with what it supports.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pennylane as qml
import pytest
import torch
from pennylane.devices import device_constructor

from qwthn import CapabilityError, get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.contract.gates import GATES
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime
from qwthn_pennylane.translate import translate

# ---------------------------------------------------------------- translation and ordering


@pytest.mark.parametrize("name", sorted(GATES))
@pytest.mark.parametrize("theta", [0.37, -1.2])
def test_gate_matrices_are_the_gate_tables(name, theta):
    spec = GATES[name]
    wires = (0,) if spec.n_wires == 1 else (1, 0)  # control on the higher wire, to catch a swapped convention
    angle = Angle.const(theta) if spec.parametrised else None
    compiled = translate(Circuit(2, (Gate(name, wires, angle),), 1, 0))
    (operation,) = compiled.template.operations
    matrix = qml.matrix(operation, wire_order=list(wires))
    np.testing.assert_allclose(matrix, spec.matrix(theta), atol=1e-12)


@pytest.mark.parametrize("device", ["default.qubit", "lightning.qubit"])
def test_probabilities_are_big_endian(device):
    backend = get_backend("pennylane", device=device)
    assert backend.capabilities.qubit_ordering == "big"
    for wire in range(3):
        circuit = Circuit(3, (Gate("X", (wire,)),), 1, 0, Readout("probs"))
        probs = backend.evaluate(backend.compile(circuit), torch.zeros(1, 1), torch.zeros(0))
        assert probs.shape == (1, 8)
        assert probs[0, 1 << (2 - wire)] == pytest.approx(1.0)


# ---------------------------------------------------------------- one call per batch


@pytest.fixture
def execute_calls(monkeypatch):
    """Every qml.execute call: (number of tapes, batch size of each)."""
    calls, original = [], qml.execute

    def spy(tapes, *args, **kwargs):
        calls.append([tape.batch_size for tape in tapes])
        return original(tapes, *args, **kwargs)

    monkeypatch.setattr(qml, "execute", spy)
    return calls


@pytest.mark.parametrize("device", ["default.qubit", "lightning.qubit"])
@pytest.mark.parametrize("per_row", [False, True], ids=["shared-weights", "per-row-weights"])
def test_a_batch_is_one_broadcast_tape(device, per_row, execute_calls):
    backend = get_backend("pennylane", device=device)
    circuit = build_qnn_circuit(3, 2, reupload=True)
    compiled = backend.compile(circuit)
    device_calls = []
    device_execute = compiled.device.execute
    compiled.device.execute = lambda tapes, *a, **k: device_calls.append(len(tapes)) or device_execute(tapes, *a, **k)
    inputs = torch.rand(9, 3, dtype=torch.float64)
    weights = torch.rand(9, circuit.n_weights) if per_row else torch.rand(circuit.n_weights)
    execute_calls.clear()  # building the backend probed the device; count the evaluation only
    outputs = backend.evaluate(compiled, inputs, weights)
    assert outputs.shape == (9, 3)
    assert execute_calls == [[9]]  # one qml.execute, one tape broadcast over the 9 rows
    # lightning splits the broadcast tape into 9 inside PennyLane; default.qubit simulates it broadcast
    assert device_calls == ([9] if device == "lightning.qubit" else [1])
    emulator = get_backend("emulator", dtype="complex128")
    expected = emulator.evaluate(emulator.compile(circuit), inputs, weights.double())
    assert (outputs - expected).abs().max() < 1e-10


def test_a_circuit_with_nothing_to_broadcast_repeats_its_row():
    backend = get_backend("pennylane")
    circuit = Circuit(2, (Gate("RY", (0,), Angle.weight(0)), Gate("CNOT", (0, 1))), 1, 1, Readout("probs"))
    outputs = backend.evaluate(backend.compile(circuit), torch.zeros(4, 1), torch.tensor([0.8], dtype=torch.float64))
    p1 = math.sin(0.4) ** 2
    expected = torch.tensor([1 - p1, 0, 0, p1], dtype=torch.float64).expand(4, -1)
    assert (outputs - expected).abs().max() < 1e-12


# ---------------------------------------------------------------- shots


def _layer_outputs(options, shots, seed, inputs, circuit):
    layer = QuantumLayer(circuit, Runtime(get_backend("pennylane", **options), shots=shots, seed=seed), init_seed=2)
    with torch.no_grad():
        return layer(inputs)


@pytest.mark.parametrize("options", [{}, {"device": "lightning.qubit"}], ids=["default.qubit", "lightning.qubit"])
def test_shots_are_a_function_of_the_seed(options):
    circuit = build_qnn_circuit(3, 2, reupload=True, readout="probs")
    inputs = torch.rand(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    first = _layer_outputs(options, 300, 11, inputs, circuit)
    again = _layer_outputs(options, 300, 11, inputs, circuit)
    other = _layer_outputs(options, 300, 12, inputs, circuit)
    exact = _layer_outputs(options, None, None, inputs, circuit)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.allclose(first * 300, (first * 300).round(), atol=1e-9)  # counts out of 300 shots
    bound = 5 * torch.sqrt(exact * (1 - exact) / 300) + 2 / 300
    assert ((first - exact).abs() <= bound).all()


def test_shots_under_backprop_sample_forward_and_differentiate_exactly():
    circuit = build_qnn_circuit(2, 2, reupload=True)
    backend = get_backend("pennylane")
    compiled = backend.compile(circuit)
    inputs = torch.rand(5, 2, dtype=torch.float64)
    weights = torch.rand(circuit.n_weights, dtype=torch.float64)
    sampled = backend.evaluate(compiled, inputs, weights, shots=200, seed=4)
    x, w = inputs.clone().requires_grad_(), weights.clone().requires_grad_()
    with_graph = backend.evaluate(compiled, x, w, shots=200, seed=4)
    assert torch.allclose(with_graph.detach(), sampled, atol=1e-12, rtol=0)  # exact + (sampled - exact)
    with_graph.sum().backward()
    x_exact, w_exact = inputs.clone().requires_grad_(), weights.clone().requires_grad_()
    backend.evaluate(compiled, x_exact, w_exact).sum().backward()
    assert torch.allclose(x.grad, x_exact.grad, atol=1e-12) and torch.allclose(w.grad, w_exact.grad, atol=1e-12)


# ---------------------------------------------------------------- noise


def _single_rotation(theta: torch.Tensor, **options) -> torch.Tensor:
    backend = get_backend("pennylane", device="default.mixed", **options)
    circuit = Circuit(1, (Gate("RY", (0,), Angle.input(0)),), 1, 0)
    return backend.evaluate(backend.compile(circuit), theta.unsqueeze(1), torch.zeros(0))[:, 0]


def test_noise_channels_act_as_pennylane_documents():
    theta = torch.tensor([0.0, 0.7, 2.1], dtype=torch.float64)
    p, gamma = 0.06, 0.1
    assert torch.allclose(_single_rotation(theta), torch.cos(theta), atol=1e-12)
    depolarized = torch.cos(theta) * (1 - 4 * p / 3)
    assert torch.allclose(_single_rotation(theta, noise={"depolarizing": p}), depolarized, atol=1e-12)
    damped = 1 - 2 * (1 - gamma) * (1 - depolarized) / 2  # damping after depolarizing shrinks P(1) by 1 - gamma
    both = _single_rotation(theta, noise={"depolarizing": p, "amplitude_damping": gamma})
    assert torch.allclose(both, damped, atol=1e-12)


def test_noisy_backprop_matches_the_cores_parameter_shift():
    """Two independent gradients of a noisy circuit: torch through default.mixed, and the core's shift rule."""
    noise = {"depolarizing": 0.02, "amplitude_damping": 0.03}
    circuit = build_qnn_circuit(3, 2, reupload=True, readout="probs")
    inputs = torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    cotangent = torch.randn(4, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    results = []
    for diff_method in ("auto", "parameter-shift"):
        backend = get_backend("pennylane", device="default.mixed", noise=noise, diff_method=diff_method)
        assert backend.capabilities.supports_noise
        layer = QuantumLayer(circuit, Runtime(backend), init_seed=3).double()
        x = inputs.clone().requires_grad_()
        outputs = layer(x)
        (outputs * cotangent).sum().backward()
        results.append((outputs.detach(), x.grad, layer.weights.grad))
    (values, grad_x, grad_w), (ps_values, ps_x, ps_w) = results
    noiseless = get_backend("pennylane")
    clean = noiseless.evaluate(
        noiseless.compile(circuit),
        inputs,
        QuantumLayer(circuit, Runtime(noiseless), init_seed=3).weights.detach().double(),
    )
    assert (values - clean).abs().max() > 1e-3  # the noise is really there
    assert (values - ps_values).abs().max() < 1e-10
    assert (grad_x - ps_x).abs().max() < 1e-8 and (grad_w - ps_w).abs().max() < 1e-8


# ---------------------------------------------------------------- devices


class _EntryPoint:
    def __init__(self, device_class):
        self._class = device_class

    def load(self):
        return self._class


class MinimalDevice(qml.devices.Device):
    """A third-party device written against PennyLane's device API only: no seed, no gradient of its own."""

    name = "qwthn.test.minimal"
    batches: ClassVar[list[list[int]]] = []
    """Per execute call: the rows each tape it received carries."""

    def __init__(self, wires=None, shots=None):
        super().__init__(wires=wires, shots=shots)

    def execute(self, circuits, execution_config=None):
        MinimalDevice.batches.append([circuit.batch_size or 1 for circuit in circuits])
        return tuple(qml.devices.qubit.simulate(circuit) for circuit in circuits)


@pytest.fixture
def minimal_device(monkeypatch):
    monkeypatch.setitem(device_constructor.plugin_devices, MinimalDevice.name, _EntryPoint(MinimalDevice))
    MinimalDevice.batches = []
    return MinimalDevice.name


@pytest.mark.parametrize(
    ("device", "gradient", "shots", "qubits"),
    [
        ("default.qubit", "autograd", True, 20),
        ("lightning.qubit", "vjp", True, 20),
        ("default.mixed", "autograd", True, 10),
        ("reference.qubit", "parameter-shift", True, 20),
        ("null.qubit", "autograd", False, 20),
    ],
)
def test_what_a_device_supports_decides_the_capabilities(device, gradient, shots, qubits):
    caps = get_backend("pennylane", device=device).capabilities
    assert (caps.gradient, caps.supports_shots, caps.exact, caps.max_qubits) == (gradient, shots, True, qubits)
    assert caps.native_gates == frozenset(GATES)
    assert get_backend("pennylane", device=device, max_qubits=3).capabilities.max_qubits == 3


def test_a_third_party_device_runs_through_the_registry(minimal_device):
    backend = get_backend("pennylane", device=minimal_device)
    MinimalDevice.batches.clear()  # building the backend probed the device; count the layer's calls only
    caps = backend.capabilities
    assert caps.gradient == "parameter-shift" and not caps.supports_shots
    circuit = build_qnn_circuit(3, 2, reupload=True)
    inputs = torch.rand(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    layers = [
        QuantumLayer(circuit, Runtime(b), init_seed=5).double()
        for b in (backend, get_backend("emulator", dtype="complex128"))
    ]
    grads = []
    for layer in layers:
        x = inputs.clone().requires_grad_()
        layer(x).sum().backward()
        grads.append((x.grad, layer.weights.grad))
    assert sum(MinimalDevice.batches[0]) == 5  # the forward: one device call holding all 5 rows
    assert (grads[0][0] - grads[1][0]).abs().max() < 1e-5 and (grads[0][1] - grads[1][1]).abs().max() < 1e-5
    with pytest.raises(CapabilityError, match="no finite-shot mode"):
        Runtime(backend, shots=100).prepare(circuit)


def test_unknown_device_kwargs_of_a_third_party_device_are_refused(minimal_device):
    from qwthn import OptionsError

    with pytest.raises(OptionsError, match="takes no argument"):
        get_backend("pennylane", device=minimal_device, device_kwargs={"precision": "double"})
