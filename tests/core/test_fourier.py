"""The exact Fourier form of circuits: equal to the circuit, built from one grid evaluation, trainable."""

from __future__ import annotations

import math

import pytest
import torch

from qwthn import QWTHNConfig, get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate
from qwthn.errors import QwthnError
from qwthn.methods.dequantize import dequantize_state
from qwthn.methods.qtha.config import QTHAConfig
from qwthn.runtime import QuantumLayer, Runtime
from qwthn.runtime.fourier import FourierSeries, grid, input_frequencies, series_from_values
from qwthn.testing import reference


@pytest.fixture(scope="module")
def exact() -> Runtime:
    return Runtime(get_backend("emulator", dtype="complex128"))


CONFIGS = [
    QWTHNConfig(n_qubits=4, n_layers=2),
    QWTHNConfig(n_qubits=3, n_layers=3, reupload=True, encoding="rx", entangler="ring"),
    QWTHNConfig(n_qubits=3, n_layers=2, readout="probs", fusion="linear"),
    QWTHNConfig(n_qubits=1, n_layers=1),
    QTHAConfig(r=2),
    QTHAConfig(r=3, qnn_layers=2),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.describe() + str(c.circuit().n_qubits))
@pytest.mark.parametrize("seed", [0, 1])
def test_series_equals_the_circuit_on_random_angles(exact, config, seed):
    circuit = config.circuit()
    layer = QuantumLayer(circuit, exact, init_seed=seed).double()
    series = series_from_values(circuit, lambda points: layer(points).detach())
    angles = (torch.rand(64, circuit.n_inputs, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
              * 2 - 1) * 3 * math.pi  # fmt: skip
    torch.testing.assert_close(series(angles), layer(angles), atol=1e-10, rtol=0)
    torch.testing.assert_close(series.float()(angles.float()), layer(angles).float(), atol=1e-5, rtol=0)


def test_frequencies_count_the_rotations_that_read_each_input():
    assert input_frequencies(QWTHNConfig(n_qubits=3, n_layers=4).circuit()) == (1, 1, 1)
    assert input_frequencies(QWTHNConfig(n_qubits=3, n_layers=4, reupload=True).circuit()) == (4, 4, 4)
    assert input_frequencies(QTHAConfig(r=3).circuit()) == (3, 3, 3)
    assert grid((1, 2)).shape == (3 * 5, 2)


def test_inputs_in_controlled_rotations_are_refused():
    circuit = Circuit(2, (Gate("H", (0,)), Gate("CRZ", (0, 1), Angle.input(0))), n_inputs=1, n_weights=0)
    with pytest.raises(QwthnError, match="drives a CRZ gate"):
        input_frequencies(circuit)


def test_series_agrees_with_the_reference_simulator_not_only_the_emulator():
    circuit = QTHAConfig(r=2, qnn_layers=2).circuit()
    weights = torch.linspace(-3, 3, circuit.n_weights, dtype=torch.float64)
    series = series_from_values(circuit, lambda points: torch.from_numpy(
        reference.evaluate(circuit, points.numpy(), weights.numpy())))  # fmt: skip
    angles = torch.rand(16, 2, dtype=torch.float64) * 6
    expected = torch.from_numpy(reference.evaluate(circuit, angles.numpy(), weights.numpy()))
    torch.testing.assert_close(series(angles), expected, atol=1e-10, rtol=0)


def test_a_fresh_series_is_a_trainable_classical_layer():
    series = FourierSeries(QWTHNConfig(n_qubits=2, n_layers=1).circuit(), init_seed=0)
    assert series.coefficients.shape == (3, 3, 2) and series.coefficients.requires_grad
    series(torch.rand(5, 2)).sum().backward()
    assert series.coefficients.grad.abs().sum() > 0


def test_dequantize_state_replaces_each_circuit_and_refuses_what_it_cannot(exact):
    config = QWTHNConfig(n_qubits=2, n_layers=1)
    state = {"a.qnn.weights": torch.rand(4), "a.down.cores.0": torch.rand(3), "b.qnn.weights": torch.rand(4)}
    new_config, new_state = dequantize_state(config, state, exact)
    assert new_config.qnn_form == "fourier" and new_config.runs_circuits is False
    assert set(new_state) == {"a.qnn.coefficients", "a.down.cores.0", "b.qnn.coefficients"}
    assert new_state["a.qnn.coefficients"].shape == (3, 3, 2)
    with pytest.raises(QwthnError, match="not a circuit"):
        dequantize_state(new_config, new_state, exact)
    with pytest.raises(QwthnError, match="runs no circuit"):
        dequantize_state(parse("qtha-mpo"), {}, exact)
    with pytest.raises(QwthnError, match="exact, noiseless"):
        dequantize_state(config, state, Runtime(get_backend("emulator"), shots=100))


def parse(method: str):
    from qwthn.methods.loading import parse_adapter_config

    return parse_adapter_config({"method": method})
