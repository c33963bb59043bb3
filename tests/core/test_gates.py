"""The gate table against closed forms, and its shift rules against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qwthn import GATES, get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate
from qwthn.contract.gates import PAULI
from qwthn.runtime import QuantumLayer, Runtime

THETA = 0.83


def expm_hermitian(generator: np.ndarray, theta: float) -> np.ndarray:
    """exp(-i theta G / 2) by eigendecomposition (an independent route to the rotation matrices)."""
    values, vectors = np.linalg.eigh(generator)
    return vectors @ np.diag(np.exp(-0.5j * theta * values)) @ vectors.conj().T


@pytest.mark.parametrize("pauli", ["X", "Y", "Z"])
def test_rotations_are_exponentials_of_paulis(pauli):
    np.testing.assert_allclose(GATES[f"R{pauli}"].matrix(THETA), expm_hermitian(PAULI[pauli], THETA), atol=1e-12)


@pytest.mark.parametrize("pauli", ["X", "Y", "Z"])
def test_controlled_rotations_act_on_the_target_when_the_first_wire_is_one(pauli):
    projector_one = np.diag([0, 1])
    generator = np.kron(projector_one, PAULI[pauli])  # control is the most significant bit
    np.testing.assert_allclose(GATES[f"CR{pauli}"].matrix(THETA), expm_hermitian(generator, THETA), atol=1e-12)


def test_fixed_gates_and_flags():
    np.testing.assert_allclose(GATES["CNOT"].matrix(0) @ np.array([0, 0, 1, 0]), [0, 0, 0, 1])
    np.testing.assert_allclose(np.diag(GATES["CZ"].matrix(0)), [1, 1, 1, -1])
    for spec in GATES.values():
        matrix = spec.matrix(THETA)
        np.testing.assert_allclose(matrix @ matrix.conj().T, np.eye(2**spec.n_wires), atol=1e-12)
        assert spec.real == bool(np.allclose(matrix.imag, 0)), spec.name
        assert spec.diagonal == bool(np.allclose(matrix, np.diag(np.diag(matrix)))), spec.name
        assert (spec.shift_rule is not None) == spec.parametrised


@pytest.mark.parametrize("name", [name for name, spec in GATES.items() if spec.parametrised])
def test_each_shift_rule_is_exact(name):
    """For a random state and observable, sum_k c_k f(theta + s_k) equals df/dtheta."""
    spec = GATES[name]
    rng = np.random.default_rng(0)
    dim = 2**spec.n_wires
    state = rng.normal(size=dim) + 1j * rng.normal(size=dim)
    state /= np.linalg.norm(state)
    observable = rng.normal(size=(dim, dim))
    observable = observable + observable.T

    def value(theta: float) -> float:
        out = spec.matrix(theta) @ state
        return float(np.real(out.conj() @ observable @ out))

    numeric = (value(THETA + 1e-6) - value(THETA - 1e-6)) / 2e-6
    shifted = sum(c * value(THETA + s) for c, s in spec.shift_rule.terms)
    assert shifted == pytest.approx(numeric, abs=1e-7)


def test_four_term_rule_through_the_runtime_matches_finite_differences(install_plugin):
    """Controlled rotations on a parameter-shift backend: the core must use four terms, not two."""
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    gates = (
        Gate("H", (0,)), Gate("RY", (1,), Angle.input(0)), Gate("CRZ", (0, 1), Angle.weight(0)),
        Gate("CRX", (1, 2), Angle.input(1)), Gate("CRY", (2, 0), Angle.weight(1)), Gate("H", (1,)),
    )  # fmt: skip
    circuit = Circuit(3, gates, n_inputs=2, n_weights=2)
    layer = QuantumLayer(circuit, Runtime(get_backend("numpy-test")), init_seed=3).double()
    inputs = torch.tensor([[0.4, -1.1], [2.0, 0.3]], dtype=torch.float64, requires_grad=True)
    cotangent = torch.tensor([[1.0, -0.5, 0.25], [0.3, 0.7, -1.0]], dtype=torch.float64)
    (layer(inputs) * cotangent).sum().backward()

    def loss(x: torch.Tensor, w: torch.Tensor) -> float:
        with torch.no_grad():
            layer.weights.copy_(w)
            return float((layer(x) * cotangent).sum())

    weights = layer.weights.detach().clone()
    step = 1e-6
    for index in range(2):
        bump = torch.zeros(2, dtype=torch.float64)
        bump[index] = step
        numeric = (loss(inputs.detach(), weights + bump) - loss(inputs.detach(), weights - bump)) / (2 * step)
        assert layer.weights.grad[index].item() == pytest.approx(numeric, abs=1e-6)
    for row, column in [(0, 1), (1, 1)]:
        bump = torch.zeros(2, 2, dtype=torch.float64)
        bump[row, column] = step
        numeric = (loss(inputs.detach() + bump, weights) - loss(inputs.detach() - bump, weights)) / (2 * step)
        assert inputs.grad[row, column].item() == pytest.approx(numeric, abs=1e-6)
    assert math.isfinite(float(inputs.grad.abs().sum()))
