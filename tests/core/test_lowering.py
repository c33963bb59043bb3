"""Core rewrites gates a backend lacks into gates it has: exact values, exact gradients, any gradient method."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qwthn import get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.runtime import QuantumLayer, Runtime
from qwthn.runtime.lowering import lower
from qwthn.testing import reference

ALL_GATES_CIRCUIT = (
    Gate("RY", (0,), Angle.input(0)), Gate("RX", (1,), Angle.input(1)), Gate("H", (2,)), Gate("X", (1,)),
    Gate("CRZ", (0, 1), Angle.weight(0)), Gate("CRY", (1, 2), Angle.weight(1)), Gate("CRX", (2, 0), Angle.input(0)),
    Gate("CZ", (0, 2)), Gate("RY", (1,), Angle.weight(2)), Gate("CNOT", (2, 1)), Gate("CRZ", (2, 1), Angle.const(0.7)),
    Gate("RZ", (0,), Angle.weight(0)), Gate("CRZ", (1, 0), Angle.input(1)),
)  # fmt: skip

GATE_SETS = {
    "emulator-like": frozenset({"RX", "RY", "RZ", "H", "X", "CZ", "CNOT"}),
    "rotations+CNOT": frozenset({"RX", "RY", "RZ", "CNOT"}),
    "rotations+CZ": frozenset({"RX", "RY", "RZ", "CZ"}),
}


@pytest.fixture
def plugins(install_plugin):
    install_plugin("qwthn-test-backends", "0.1", "numpy-test", "numpy_backend")


def circuit(kind: str = "expval_z") -> Circuit:
    return Circuit(3, ALL_GATES_CIRCUIT, n_inputs=2, n_weights=3, readout=Readout(kind))


@pytest.mark.parametrize("gate_set", sorted(GATE_SETS))
@pytest.mark.parametrize("kind", ["expval_z", "probs"])
def test_lowered_circuit_computes_the_original_function(gate_set: str, kind: str) -> None:
    original = circuit(kind)
    lowering = lower(original, GATE_SETS[gate_set])
    assert lowering.circuit.gate_names <= GATE_SETS[gate_set]
    rng = np.random.default_rng(0)
    inputs, weights = torch.tensor(rng.uniform(-3, 3, (6, 2))), torch.tensor(rng.uniform(-3, 3, 3))
    slot_inputs, slot_weights = lowering.bind(inputs, weights)
    lowered = reference.evaluate(lowering.circuit, slot_inputs.numpy(), slot_weights.numpy())
    np.testing.assert_allclose(lowered, reference.evaluate(original, inputs.numpy(), weights.numpy()), atol=1e-12)


def test_a_circuit_the_backend_runs_is_left_alone() -> None:
    original = circuit()
    lowering = lower(original, frozenset({"RX", "RY", "RZ", "H", "X", "CZ", "CNOT", "CRX", "CRY", "CRZ"}))
    assert lowering.circuit is original and not lowering.rewritten


def test_a_gate_without_a_rule_into_the_backend_set_is_left_for_the_capability_check() -> None:
    lowering = lower(circuit(), frozenset({"RX", "RY", "CNOT"}))  # no RZ: CRZ cannot be built
    assert "RZ" in lowering.circuit.gate_names


def finite_difference_gradients(layer: QuantumLayer, inputs: torch.Tensor, cotangent: torch.Tensor, step=1e-6):
    """Central differences of <cotangent, layer(inputs)> in every input and weight."""

    def value() -> float:
        with torch.no_grad():
            return float((layer(inputs) * cotangent).sum())

    grads = []
    for tensor in (inputs, layer.weights.data):
        grad = torch.zeros_like(tensor)
        for index in np.ndindex(*tensor.shape):
            original = float(tensor[index])
            tensor[index] = original + step
            plus = value()
            tensor[index] = original - step
            minus = value()
            tensor[index] = original
            grad[index] = (plus - minus) / (2 * step)
        grads.append(grad)
    return grads


@pytest.mark.parametrize(
    "backend, options",
    [
        ("emulator", {"dtype": "complex128"}),  # lowered, autograd through the rewritten circuit
        ("numpy-test", {}),  # CRZ native: the four-term shift rule
        ("numpy-test", {"native_gates": ["RX", "RY", "RZ", "H", "CNOT"]}),  # lowered, two-term shifts
    ],
)
@pytest.mark.parametrize("kind", ["expval_z", "probs"])
def test_controlled_rotation_gradients_match_finite_differences(plugins, backend, options, kind) -> None:
    runtime = Runtime(get_backend(backend, **options))
    layer = QuantumLayer(circuit(kind), runtime, init_seed=3).double()
    rng = np.random.default_rng(1)
    inputs = torch.tensor(rng.uniform(-3, 3, (4, 2)), requires_grad=True)
    cotangent = torch.tensor(rng.normal(size=(4, layer.circuit.n_outputs)))
    (layer(inputs) * cotangent).sum().backward()
    expected_inputs, expected_weights = finite_difference_gradients(layer, inputs.detach().clone(), cotangent)
    np.testing.assert_allclose(inputs.grad.numpy(), expected_inputs.numpy(), atol=1e-5)
    np.testing.assert_allclose(layer.weights.grad.numpy(), expected_weights.numpy(), atol=1e-5)


def test_the_two_term_rule_alone_would_be_wrong_for_crz(plugins) -> None:
    """Why CRZ carries the four-term rule: its generator has eigenvalues 0 and +-1/2."""
    from qwthn.contract.gates import TWO_TERM

    single = Circuit(2, (Gate("H", (0,)), Gate("H", (1,)), Gate("CRZ", (0, 1), Angle.weight(0)),
                         Gate("H", (0,))), n_inputs=0, n_weights=1)  # fmt: skip
    theta = 0.9  # <X_0> = (1 + cos(theta / 2)) / 2: the half frequency the two-term rule misses
    f = lambda t: reference.evaluate(single, np.zeros((1, 0)), np.array([t]))[0, 0]  # noqa: E731
    exact = (f(theta + 1e-6) - f(theta - 1e-6)) / 2e-6
    two_term = sum(c * f(theta + s) for c, s in TWO_TERM.terms)
    four_term = sum(c * f(theta + s) for c, s in single.gates[2].spec.shift_rule.terms)
    assert abs(four_term - exact) < 1e-6 and abs(two_term - exact) > 1e-2
