"""WukongBackend: options, capabilities, ideal equivalence with the emulator, noise, shots, mitigation, conformance."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from wukong_data import CLOUD, set_params

from qwthn import get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.errors import OptionsError
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.testing.runner import run_suite
from qwthn_wukong.backend import MAX_SIMULATED_QUBITS, WukongBackend, WukongOptions
from qwthn_wukong.noise_model import (
    build_noise_spec,
    cz_lambda,
    depolarizing_from_fidelity,
    relaxation_fidelity,
    single_lambda,
)
from qwthn_wukong.profile import ChipProfile, QubitCalibration, default_profile

pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


def backend(**options):
    return WukongBackend(WukongOptions(**options))


def run(b, circuit, inputs, weights, **kwargs):
    return b.evaluate(b.compile(circuit), torch.as_tensor(inputs), torch.as_tensor(weights), **kwargs)


def emulator(circuit, inputs, weights):
    emu = get_backend("emulator", dtype="complex128")
    return emu.evaluate(emu.compile(circuit), torch.as_tensor(inputs), torch.as_tensor(weights)).double()


@pytest.fixture(scope="module")
def qnn():
    rng = np.random.default_rng(0)
    circuit = build_qnn_circuit(4, 3)
    return circuit, rng.uniform(-2, 2, (5, circuit.n_inputs)), rng.uniform(-2, 2, circuit.n_weights)


def test_options_and_capabilities():
    caps = get_backend("wukong").capabilities
    assert caps.max_qubits == MAX_SIMULATED_QUBITS and caps.routes and caps.coupling_map is None
    assert caps.native_gates == {"RX", "RY", "RZ", "H", "X", "CZ", "CNOT"}
    assert caps.max_shots == 20000 and caps.supports_noise and caps.exact and caps.qubit_ordering == "big"
    assert caps.gradient == "parameter-shift" and caps.max_batch == 64
    with pytest.raises(OptionsError, match="noise_scale"):
        get_backend("wukong", noise_scale=-1)
    with pytest.raises(OptionsError, match="mitigation"):
        get_backend("wukong", mitigation="zne")


def test_noise_scale_zero_matches_the_emulator(qnn):
    circuit, inputs, weights = qnn
    ideal = backend(noise_scale=0)
    torch.testing.assert_close(
        run(ideal, circuit, inputs, weights), emulator(circuit, inputs, weights), atol=1e-10, rtol=0
    )
    probs = build_qnn_circuit(4, 3, readout="probs")
    torch.testing.assert_close(run(ideal, probs, inputs, weights), emulator(probs, inputs, weights), atol=1e-10, rtol=0)


def test_forced_layout_with_routing_matches_the_emulator():
    gates = [Gate("H", (w,)) for w in range(3)] + [Gate("RY", (w,), Angle.input(w)) for w in range(3)]
    gates += [Gate("CNOT", (0, 2)), Gate("RX", (2,), Angle.weight(0)), Gate("CNOT", (2, 1)), Gate("X", (0,))]
    rng = np.random.default_rng(1)
    inputs, weights = rng.uniform(-2, 2, (3, 3)), rng.uniform(-2, 2, 1)
    for readout in (Readout("expval_z", (2, 0)), Readout("probs")):
        circuit = Circuit(3, tuple(gates), 3, 1, readout)
        b = backend(noise_scale=0, layout=[0, 1, 2])
        assert b.compile(circuit).placement.swaps >= 1
        torch.testing.assert_close(
            run(b, circuit, inputs, weights), emulator(circuit, inputs, weights), atol=1e-10, rtol=0
        )


def test_noise_damps_expectations_and_mitigation_helps(qnn):
    circuit, inputs, weights = qnn
    ideal = emulator(circuit, inputs, weights)
    noisy = run(backend(), circuit, inputs, weights)
    worse = run(backend(noise_scale=3.0), circuit, inputs, weights)
    mitigated = run(backend(mitigation="readout"), circuit, inputs, weights)
    assert (noisy - ideal).abs().max() > 1e-3
    assert (worse - ideal).abs().mean() > (noisy - ideal).abs().mean()
    assert (mitigated - ideal).abs().mean() < (noisy - ideal).abs().mean()
    assert noisy.dtype == torch.float64 and noisy.shape == ideal.shape


def test_shots_are_seeded(qnn):
    circuit, inputs, weights = qnn
    b = backend()
    one = run(b, circuit, inputs, weights, shots=2000, seed=7)
    assert torch.equal(one, run(b, circuit, inputs, weights, shots=2000, seed=7))
    assert not torch.equal(one, run(b, circuit, inputs, weights, shots=2000, seed=8))
    exact = run(b, circuit, inputs, weights)
    assert (one - exact).abs().max() < 0.15


def test_per_row_weights(qnn):
    circuit, inputs, weights = qnn
    b = backend()
    rows = np.stack([weights + 0.1 * k for k in range(inputs.shape[0])])
    together = run(b, circuit, inputs, rows)
    for k in range(inputs.shape[0]):
        torch.testing.assert_close(together[k : k + 1], run(b, circuit, inputs[k : k + 1], rows[k]))


def test_compiled_program_describes_the_chip(qnn):
    circuit, _, _ = qnn
    program = backend().compile(circuit)
    assert program.native.gate_names <= {"RX", "RY", "RZ", "CZ"}
    assert program.schedule.duration_ns > 0 and program.schedule.cz_gates == 2 * 3
    assert len(program.noise.wires) == 4 and all(0 <= w.depolarizing < 0.01 for w in program.noise.wires)
    assert all(0.02 < value < 0.05 for value in program.noise.pairs.values())
    assert program.noise.scale == 1.0


@pytest.mark.parametrize("data", set_params())
def test_a_calibration_file_runs(data):
    """A user-supplied file (synthetic, or the public snapshot when present) drives placement and noise."""
    b = get_backend("wukong", calibration=str(data.path(CLOUD)))
    # the largest connected set of calibrated qubits (synthetic: 9), capped at what the simulator takes (snapshot)
    assert b.capabilities.max_qubits == min(data.largest_component, MAX_SIMULATED_QUBITS)
    circuit = build_qnn_circuit(3, 2)
    program = b.compile(circuit)
    assert all(q in b.profile.qubits for q in program.placement.physical)
    out = run(b, circuit, np.zeros((2, 3)), np.zeros(circuit.n_weights))
    assert out.shape == (2, 3) and (out < 1).all()


def test_lambda_convention():
    # average gate fidelity F -> lambda = (1 - F) d / (d - 1) (Aer / pyqpanda3 convention)
    assert depolarizing_from_fidelity(0.998, 2) == pytest.approx(0.004)
    assert depolarizing_from_fidelity(0.963, 4) == pytest.approx(0.037 * 4 / 3)
    profile = default_profile()
    # at the medians, T2 = 5 us alone costs 1 - F = 0.0023 > 0.002 in 30 ns: no depolarising share is left
    assert single_lambda(profile, 0) == 0.0 and single_lambda(profile, 0, subtract_relaxation=False) > 0
    assert 0 < cz_lambda(profile, 0, 1) < cz_lambda(profile, 0, 1, subtract_relaxation=False)
    assert 0 < single_lambda(_long_lived(), 0) < 0.004
    spec = build_noise_spec(profile, [0, 1, 7], 0.5)
    assert set(spec.pairs) == {(0, 1), (1, 2)} and spec.scale == 0.5
    assert spec.wires[0].t1_ns == 18000 and spec.wires[0].readout == (0.956, 0.821)


def _long_lived():
    profile = default_profile()
    qubits = dict(profile.qubits)
    qubits[0] = QubitCalibration(40.0, 30.0, 0.998, (0.95, 0.9), (0, 0))
    return ChipProfile("long-lived", qubits, dict(profile.couplers))


def _kraus_average_fidelity(kraus, d):
    process = sum(abs(np.trace(k)) ** 2 for k in kraus) / d**2
    return (d * process + 1) / (d + 1)


def test_depolarizing_plus_relaxation_reaches_the_calibrated_fidelity():
    """The channel the engine applies after an RPhi gate (depolarise, then relax for 30 ns) has fidelity F."""
    profile = _long_lived()
    qubit = profile.qubits[0]
    lam = single_lambda(profile, 0)
    assert lam > 0
    t, t1, t2 = 30.0, qubit.t1_us * 1e3, qubit.t2_us * 1e3
    gamma = 1 - np.exp(-t / t1)
    coherence = np.exp(-t / t2) / np.sqrt(1 - gamma)  # extra pure dephasing on top of amplitude damping
    amp = [np.array([[1, 0], [0, np.sqrt(1 - gamma)]]), np.array([[0, np.sqrt(gamma)], [0, 0]])]
    phase = [np.sqrt((1 + coherence) / 2) * np.eye(2), np.sqrt((1 - coherence) / 2) * np.diag([1, -1])]
    paulis = [np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1, -1])]
    depol = [np.sqrt(1 - 3 * lam / 4) * paulis[0]] + [np.sqrt(lam / 4) * p for p in paulis[1:]]
    kraus = [p @ a @ k for k in depol for a in amp for p in phase]
    assert _kraus_average_fidelity(kraus, 2) == pytest.approx(qubit.single_fidelity, abs=1e-9)
    assert _kraus_average_fidelity([p @ a for a in amp for p in phase], 2) == pytest.approx(
        relaxation_fidelity(qubit, t), abs=1e-12
    )


@pytest.mark.parametrize(
    ("options", "passes"),
    [
        ({"noise_scale": 0}, r"test_random_circuits_match_reference\[probs\] PASSED"),  # against the ideal reference
        ({"max_batch": 4}, r"test_gradients_match_finite_differences\[probs\] PASSED"),  # noisy: against itself
    ],
    ids=["noise off", "calibrated noise"],
)
def test_passes_the_conformance_suite(tmp_path, options, passes):
    result = run_suite("wukong", options, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.report
    reasons = result.skip_reasons
    assert all("declares" in reason for reason in reasons), reasons
    assert re.search(passes, result.stdout), result.stdout


def test_a_dry_run_estimates_chip_time_from_the_schedule_and_shots():
    from qwthn.methods.qwthn.ansatz import build_qnn_circuit
    from qwthn.runtime import QuantumLayer, Runtime

    backend = get_backend("wukong")
    runtime = Runtime(backend, shots=1000, seed=0, dry_run=True)
    layer = QuantumLayer(build_qnn_circuit(4, 2), runtime, init_seed=0)
    layer(torch.zeros(10, 4))
    program = next(iter(runtime._prepared.values())).compiled
    per_shot_ns = program.schedule.duration_ns + 2000.0
    assert program.schedule.duration_ns > 0
    assert runtime.tracker.rows == 10 and runtime.tracker.shots == 10_000
    assert runtime.tracker.estimated_device_seconds == pytest.approx(10_000 * per_shot_ns * 1e-9)
