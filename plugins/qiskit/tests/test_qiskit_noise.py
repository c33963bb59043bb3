"""Noise: exact density-matrix values include measurement errors and agree with sampling the same model.

Aer's estimator and save_probabilities measure nothing, so Aer alone would drop readout errors and
quantum errors on `measure`; the backend adds both (see `qwthn_qiskit.noise`). Every check compares
exact noisy values with many-shot samples of the same noise model, within 5 standard errors.
"""

from __future__ import annotations

import pytest
import torch
from qiskit_aer.noise import NoiseModel, ReadoutError, amplitude_damping_error, depolarizing_error

from qwthn import CapabilityError, get_backend
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime
from qwthn.testing import reference

SHOTS = 100_000


def noise_model(*, measurement: bool = True) -> NoiseModel:
    model = NoiseModel(basis_gates=["ry", "rz", "cz"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.03, 1), ["ry", "rz"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.06, 2), ["cz"])
    if measurement:
        model.add_all_qubit_readout_error(ReadoutError([[0.93, 0.07], [0.18, 0.82]]))
        model.add_quantum_error(amplitude_damping_error(0.25), "measure", [1])
    return model


def run(options: dict, circuit, inputs, weights, **runtime) -> torch.Tensor:
    layer = QuantumLayer(circuit, Runtime(get_backend("qiskit", **options), **runtime)).double()
    with torch.no_grad():
        layer.weights.copy_(weights)
        return layer(inputs)


def sigma(exact: torch.Tensor, readout: str, shots: int) -> torch.Tensor:
    variance = exact * (1 - exact) if readout == "probs" else 1 - exact**2
    return torch.sqrt(variance.clamp(min=0) / shots)


def case(readout: str, rows: int = 4):
    circuit = build_qnn_circuit(3, 2, reupload=True, readout=readout)
    generator = torch.Generator().manual_seed(21)
    inputs = torch.rand(rows, 3, generator=generator, dtype=torch.float64) * 3
    weights = (torch.rand(circuit.n_weights, generator=generator, dtype=torch.float64) * 2 - 1) * 3
    return circuit, inputs, weights


@pytest.mark.parametrize("readout", ["expval_z", "probs"])
def test_exact_noisy_values_match_sampling_including_measurement_errors(readout):
    circuit, inputs, weights = case(readout)
    options = {"noise_model": noise_model()}
    exact = run(options, circuit, inputs, weights)
    sampled = run(options, circuit, inputs, weights, shots=SHOTS, seed=5)
    bound = 5 * sigma(exact, readout, SHOTS) + 2 / SHOTS
    assert torch.all((sampled - exact).abs() <= bound), (sampled - exact).abs().max()

    # the measurement errors matter far beyond the statistical bound, so the check above can fail
    without = run({"noise_model": noise_model(measurement=False)}, circuit, inputs, weights)
    assert ((without - exact).abs() / bound).max() > 10
    ideal = torch.from_numpy(reference.evaluate(circuit, inputs.numpy(), weights.numpy()))
    assert ((ideal - without).abs() / bound).max() > 10  # and so do the gate errors
    if readout == "probs":
        torch.testing.assert_close(exact.sum(dim=1), torch.ones(len(inputs), dtype=torch.float64))


@pytest.mark.parametrize("readout", ["expval_z", "probs"])
def test_exact_twin_of_a_fake_device_matches_the_device(readout):
    """`aer:FakeManilaV2` (exact, density matrix) against FakeManilaV2 itself sampled through BackendSamplerV2."""
    circuit, inputs, weights = case(readout, rows=3)
    exact = run({"backend": "aer:FakeManilaV2"}, circuit, inputs, weights)
    sampled = run({"backend": "FakeManilaV2"}, circuit, inputs, weights, shots=SHOTS, seed=9)
    bound = 5 * sigma(exact, readout, SHOTS) + 2 / SHOTS
    assert torch.all((sampled - exact).abs() <= bound), (sampled - exact).abs().max()
    ideal = torch.from_numpy(reference.evaluate(circuit, inputs.numpy(), weights.numpy()))
    assert ((ideal - exact).abs() / bound).max() > 10  # the device's noise is visible


def test_parameter_shift_gradients_hold_under_noise():
    """Noise that does not depend on the angles keeps the shift rules exact: compare with finite differences."""
    circuit, inputs, weights = case("expval_z", rows=2)
    options = {"noise_model": noise_model()}
    layer = QuantumLayer(circuit, Runtime(get_backend("qiskit", **options))).double()
    with torch.no_grad():
        layer.weights.copy_(weights)
    x = inputs.clone().requires_grad_(True)
    layer(x).sum().backward()
    step = 1e-4
    numeric = torch.zeros_like(weights)
    for k in range(len(weights)):
        shift = torch.zeros_like(weights)
        shift[k] = step
        plus, minus = run(options, circuit, inputs, weights + shift), run(options, circuit, inputs, weights - shift)
        numeric[k] = (plus - minus).sum() / (2 * step)
    torch.testing.assert_close(layer.weights.grad, numeric, atol=1e-6, rtol=0)
    assert numeric.abs().max() > 1e-2


def test_statevector_with_noise_samples_trajectories_only():
    circuit, inputs, weights = case("expval_z", rows=2)
    options = {"noise_model": noise_model(), "method": "statevector"}
    with pytest.raises(CapabilityError, match="only samples"):
        run(options, circuit, inputs, weights)
    first = run(options, circuit, inputs, weights, shots=500, seed=1)
    assert torch.equal(first, run(options, circuit, inputs, weights, shots=500, seed=1))
