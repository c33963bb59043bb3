"""The simulated chip behaves as its calibration says: Bell pairs, readout, depth, mitigation.

Runs on the synthetic cloud config of data/ always, and on the public 2026-03 snapshot too where it lies
beside the repository (wukong_data), through the backend as users run it: forced layouts pick good and
poor qubits and couplers.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from wukong_data import CLOUD, set_params

from qwthn import get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.runtime import QuantumLayer, Runtime
from qwthn_wukong.calibration import load_calibration
from qwthn_wukong.profile import ChipProfile


@pytest.fixture(scope="module", params=set_params())
def calibration(request: pytest.FixtureRequest) -> Path:
    """The cloud-config file each test runs on: synthetic always, the public snapshot when present."""
    return request.param.path(CLOUD)


def probabilities(
    calibration: Path, circuit: Circuit, layout: list[int], shots: int | None = None, **options
) -> np.ndarray:
    backend = get_backend("wukong", calibration=str(calibration), layout=layout, **options)
    layer = QuantumLayer(circuit, Runtime(backend, shots=shots, seed=0), init_seed=0)
    with torch.no_grad():
        return layer(torch.zeros(1, circuit.n_inputs, dtype=torch.float64)).double().numpy()[0]


def bell() -> Circuit:
    gates = (Gate("H", (0,)), Gate("CNOT", (0, 1)))
    return Circuit(2, gates, n_inputs=0, n_weights=0, readout=Readout("probs"))


def test_a_bell_pair_is_better_on_a_well_calibrated_pair_than_on_a_poor_one(calibration):
    profile = load_calibration(calibration)

    def quality(pair: tuple[int, int]) -> float:
        a, b = (profile.qubits[q] for q in pair)
        return profile.couplers[pair] * a.readout_fidelity * b.readout_fidelity * a.single_fidelity * b.single_fidelity

    usable = [pair for pair in profile.couplers if all(q in profile.qubits for q in pair)]
    best, worst = max(usable, key=quality), min(usable, key=quality)
    fidelity = {pair: probabilities(calibration, bell(), list(pair))[[0, 3]].sum() for pair in (best, worst)}
    assert fidelity[best] > fidelity[worst] + 0.05
    ideal = probabilities(calibration, bell(), list(best), noise_scale=0.0)[[0, 3]].sum()
    assert fidelity[best] < 1.0 and ideal == pytest.approx(1)


@pytest.mark.parametrize("prepared", [0, 1])
def test_single_qubit_readout_reproduces_the_calibrated_assignment_fidelity(calibration, prepared):
    profile = load_calibration(calibration)
    qubit = max(profile.qubits, key=lambda q: profile.qubits[q].t1_us)  # long T1: the X gate adds little
    expected = profile.qubits[qubit].readout[prepared]  # P(0|0) or P(1|1)
    gates = (Gate("RX", (0,), Angle.const(np.pi * prepared)),)
    circuit = Circuit(1, gates, n_inputs=0, n_weights=0, readout=Readout("probs"))
    shots = 20000
    measured = probabilities(calibration, circuit, [qubit], shots=shots)[prepared]
    sigma = np.sqrt(expected * (1 - expected) / shots)
    gate_error = 0.0 if prepared == 0 else 3 * profile.single_gate_ns / (profile.qubits[qubit].t1_us * 1000)
    assert abs(measured - expected) < 5 * sigma + gate_error


def test_fidelity_falls_with_depth_as_the_calibration_predicts(calibration):
    profile = load_calibration(calibration)
    qubit = next(iter(profile.qubits))

    def survival(depth: int, **options) -> float:
        gates = tuple(Gate("RX", (0,), Angle.const(np.pi / 2)) for _ in range(4 * depth))  # identity per 4
        circuit = Circuit(1, gates, n_inputs=0, n_weights=0, readout=Readout("probs"))
        return float(probabilities(calibration, circuit, [qubit], mitigation="readout", **options)[0])

    values = [survival(depth) for depth in (0, 5, 10, 20, 40)]
    assert all(a > b for a, b in itertools.pairwise(values)), values
    assert [survival(depth, noise_scale=0.0) for depth in (5, 40)] == pytest.approx([1.0, 1.0])
    assert values[0] == pytest.approx(1.0, abs=1e-9)  # no gates: only readout error, which mitigation undoes
    # the calibration's prediction, from an independent simulator: Qiskit Aer with this qubit's T1, T2 and
    # gate depolarising (lambda after the relaxation share, as the backend derives it) on every RX
    assert values[-1] == pytest.approx(aer_survival(profile, qubit, 4 * 40), abs=1e-6)


def aer_survival(profile: ChipProfile, qubit: int, n_gates: int) -> float:
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, depolarizing_error, thermal_relaxation_error

    from qwthn_wukong.noise_model import build_noise_spec

    calibration = profile.qubits[qubit]
    lam = build_noise_spec(profile, [qubit], 1.0).wires[0].depolarizing
    t1, t2 = calibration.t1_us * 1000, min(calibration.t2_us * 1000, 2 * calibration.t1_us * 1000)
    error = depolarizing_error(lam, 1).compose(thermal_relaxation_error(t1, t2, profile.single_gate_ns))
    model = NoiseModel(basis_gates=["rx"])
    model.add_quantum_error(error, ["rx"], [0])
    circuit = QuantumCircuit(1)
    for _ in range(n_gates):
        circuit.rx(np.pi / 2, 0)
    circuit.save_probabilities()
    result = AerSimulator(method="density_matrix", noise_model=model).run(circuit, optimization_level=0).result()
    return float(result.data()["probabilities"][0])


def test_readout_mitigation_brings_a_readout_dominated_result_back_towards_the_ideal(calibration):
    profile = load_calibration(calibration)
    qubit = min(profile.qubits, key=lambda q: profile.qubits[q].readout[1])  # the worst P(1|1)
    circuit = Circuit(1, (Gate("X", (0,)),), n_inputs=0, n_weights=0, readout=Readout("probs"))
    raw = probabilities(calibration, circuit, [qubit])[1]
    mitigated = probabilities(calibration, circuit, [qubit], mitigation="readout")[1]
    assert raw < 0.8 and abs(1 - mitigated) < abs(1 - raw) / 5
