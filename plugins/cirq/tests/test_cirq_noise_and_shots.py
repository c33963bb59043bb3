"""Noise against closed forms (Cirq's depolarizing convention), shots against exact values, and seeds."""

from __future__ import annotations

import math

import cirq
import pytest
import torch

from qwthn import QwthnError, get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.runtime import QuantumLayer, Runtime
from qwthn_cirq.options import qsim_available

FLIP_AND_ENTANGLE = Circuit(2, (Gate("X", (0,)), Gate("CZ", (0, 1))), 1, 0, Readout("expval_z", (0, 1)))
ONE_ROW = torch.zeros(1, 1, dtype=torch.float64)
NO_WEIGHTS = torch.zeros(0, dtype=torch.float64)
SHOTS = 4000


def run(backend, circuit, inputs=ONE_ROW, weights=NO_WEIGHTS, **kwargs):
    return backend.evaluate(backend.compile(circuit), inputs, weights, **kwargs)


def within_5_sigma(estimate: torch.Tensor, exact: torch.Tensor, shots: int) -> bool:
    sigma = torch.sqrt((1 - exact**2).clamp(min=0) / shots)
    return bool(((estimate - exact).abs() <= 5 * sigma + 2 / shots).all())


def test_depolarizing_after_every_gate_on_its_qubits():
    """X then depolarize(p): <Z0> = -(1 - 4p/3); CZ then depolarize(p, 2): each <Z> times (1 - 16p/15)."""
    p = 0.3
    backend = get_backend("cirq", depolarizing=p)
    one, two = 1 - 4 * p / 3, 1 - 16 * p / 15
    expected = torch.tensor([[-one * two, two]], dtype=torch.float64)
    torch.testing.assert_close(run(backend, FLIP_AND_ENTANGLE), expected, atol=1e-12, rtol=0)
    assert within_5_sigma(run(backend, FLIP_AND_ENTANGLE, shots=SHOTS, seed=3)[0], expected[0], SHOTS)
    noiseless = run(get_backend("cirq"), FLIP_AND_ENTANGLE)
    torch.testing.assert_close(noiseless, torch.tensor([[-1.0, 1.0]], dtype=torch.float64))


def test_user_noise_model_applies_per_moment_with_depolarizing_after():
    """amplitude_damp(g) on every qubit after the gate's moment (the idle wire too), then the gate's depolarizing."""
    g, p = 0.2, 0.3
    circuit = Circuit(2, (Gate("X", (0,)),), 1, 0, Readout("expval_z", (0, 1)))
    damped = get_backend("cirq", noise_model=cirq.amplitude_damp(g))
    torch.testing.assert_close(run(damped, circuit), torch.tensor([[2 * g - 1, 1.0]], dtype=torch.float64))
    both = get_backend("cirq", noise_model=cirq.amplitude_damp(g), depolarizing=p)
    expected = torch.tensor([[(2 * g - 1) * (1 - 4 * p / 3), 1.0]], dtype=torch.float64)
    torch.testing.assert_close(run(both, circuit), expected)


def test_moment_noise_reaches_idle_wires_alike_in_exact_and_shot_mode():
    """ConstantQubitNoiseModel noises every program qubit per moment; an idle wire is one too, measured or not."""
    q = 0.15
    backend = get_backend("cirq", noise_model=cirq.depolarize(q))
    circuit = Circuit(2, (Gate("X", (0,)),), 1, 0, Readout("expval_z", (0, 1)))
    expected = torch.tensor([-(1 - 4 * q / 3), 1 - 4 * q / 3], dtype=torch.float64)
    torch.testing.assert_close(run(backend, circuit)[0], expected)
    assert within_5_sigma(run(backend, circuit, shots=SHOTS, seed=2)[0], expected, SHOTS)


class ReadoutFlip(cirq.NoiseModel):
    """A bit flip before every measurement: readout error, which exists only when something is measured."""

    def noisy_operation(self, operation):
        if cirq.is_measurement(operation):
            return [cirq.bit_flip(0.25).on_each(*operation.qubits), operation]
        return operation


def test_readout_noise_shows_under_shots_only():
    backend = get_backend("cirq", noise_model=ReadoutFlip())
    circuit = Circuit(2, (Gate("X", (0,)),), 1, 0, Readout("expval_z", (0, 1)))
    torch.testing.assert_close(run(backend, circuit), torch.tensor([[-1.0, 1.0]], dtype=torch.float64))
    estimate = run(backend, circuit, shots=SHOTS, seed=5)[0]
    assert within_5_sigma(estimate, torch.tensor([-0.5, 0.5], dtype=torch.float64), SHOTS), estimate


def test_noisy_gradients_are_parameter_shift_of_the_noisy_circuit():
    """Depolarizing scales <Z> of RY(x) by (1 - 4p/3): value and derivative follow."""
    p = 0.1
    circuit = Circuit(1, (Gate("RY", (0,), Angle.input(0)),), 1, 0)
    layer = QuantumLayer(circuit, Runtime(get_backend("cirq", depolarizing=p))).double()
    x = torch.tensor([[0.3], [1.2], [-2.0]], dtype=torch.float64, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    scale = 1 - 4 * p / 3
    torch.testing.assert_close(out.detach(), scale * torch.cos(x.detach()))
    torch.testing.assert_close(x.grad, -scale * torch.sin(x.detach()))


SHOT_SIMULATORS = {"statevector": {}, "density_matrix": {"simulator": "density_matrix"}, "qsim": {"simulator": "qsim"}}


@pytest.mark.parametrize("simulator", list(SHOT_SIMULATORS))
def test_shots_follow_the_seed_and_the_exact_values(simulator):
    if simulator == "qsim" and not qsim_available():
        pytest.skip("qsimcirq is not installed (extra qwthn-cirq[qsim])")
    backend = get_backend("cirq", **SHOT_SIMULATORS[simulator])
    gates = (*(Gate("RY", (w,), Angle.input(w)) for w in range(3)), Gate("CNOT", (0, 2)))
    circuit = Circuit(3, gates, 3, 0, Readout("probs"))
    inputs = torch.tensor([[0.4, 1.9, 2.6], [math.pi / 2, 0.1, 1.0]], dtype=torch.float64)
    first = run(backend, circuit, inputs, shots=500, seed=11)
    assert torch.equal(first, run(backend, circuit, inputs, shots=500, seed=11))
    assert not torch.equal(first, run(backend, circuit, inputs, shots=500, seed=12))
    assert torch.allclose(first.sum(dim=1), torch.ones(2, dtype=torch.float64))
    assert torch.all(first * 500 == torch.round(first * 500))  # counts / shots
    exact = run(backend, circuit, inputs)
    sampled = run(backend, circuit, inputs, shots=SHOTS, seed=1)
    sigma = torch.sqrt(exact * (1 - exact) / SHOTS)
    assert torch.all((sampled - exact).abs() <= 5 * sigma + 2 / SHOTS), (sampled, exact)


def test_runtime_seed_makes_layers_reproducible():
    circuit = Circuit(2, (Gate("RY", (0,), Angle.weight(0)), Gate("CRX", (0, 1), Angle.input(0))), 1, 1)
    inputs = torch.linspace(-2, 2, 6, dtype=torch.float64).unsqueeze(1)

    def estimate(seed):
        layer = QuantumLayer(circuit, Runtime(get_backend("cirq"), shots=200, seed=seed), init_seed=0).double()
        return layer(inputs).detach()

    assert torch.equal(estimate(4), estimate(4)) and not torch.equal(estimate(4), estimate(5))


def test_backend_refuses_invalid_shots():
    """Values the runtime never sends, refused by the backend itself rather than passed to Cirq."""
    for shots in (0, -5, 2.5, True):
        with pytest.raises(QwthnError, match="shots must be a positive integer"):
            run(get_backend("cirq"), FLIP_AND_ENTANGLE, shots=shots, seed=1)
