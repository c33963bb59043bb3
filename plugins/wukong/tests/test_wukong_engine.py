"""The Wukong noisy engine: noiseless limit, Qiskit Aer cross-check, closed forms, mitigation, sampling."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

try:
    import qwthn_wukong  # noqa: F401
except ImportError:  # the plugin is not installed yet: import it from its source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import qwthn
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.testing import reference
from qwthn_wukong.engine import mitigate_readout, noisy_probabilities, sample_probabilities
from qwthn_wukong.noise_spec import NoiseSpec, WireNoise

NATIVE = ("RX", "RY", "RZ", "CZ")


def chain(n: int) -> list[tuple[int, int]]:
    return [(w, w + 1) for w in range(n - 1)]


def random_noise(rng: np.random.Generator, n: int, *, scale: float = 1.0, readout: bool = True) -> NoiseSpec:
    wires = []
    for _ in range(n):
        t1 = float(rng.uniform(3e3, 20e3))
        wires.append(
            WireNoise(
                depolarizing=float(rng.uniform(0, 0.05)),
                t1_ns=t1,
                t2_ns=float(t1 * rng.uniform(0.2, 1.9)),
                readout=(float(rng.uniform(0.85, 0.99)), float(rng.uniform(0.8, 0.98))) if readout else (1.0, 1.0),
            )
        )
    pairs = {(a, b): float(rng.uniform(0, 0.1)) for a in range(n) for b in range(a + 1, n)}
    return NoiseSpec(tuple(wires), pairs, single_gate_ns=300.0, cz_gate_ns=500.0, scale=scale)


def zero_noise(n: int, **kwargs) -> NoiseSpec:
    wires = tuple(WireNoise(0.0, 1e300, 1e300, (1.0, 1.0)) for _ in range(n))
    return NoiseSpec(wires, {(a, b): 0.0 for a in range(n) for b in range(a + 1, n)}, **kwargs)


def random_case(seed: int, n: int, batch: int = 3, per_row_weights: bool = False, n_gates: int | None = None):
    rng = np.random.default_rng(seed)
    circuit = reference.random_circuit(
        rng, n, NATIVE, n_gates=n_gates, coupling_map=chain(n) + [(n - 1, 0)] * (n > 2), readout="probs"
    )
    inputs = reference.random_angles(rng, batch, circuit.n_inputs)
    weights = reference.random_angles(rng, *((batch,) if per_row_weights else ()), circuit.n_weights)
    return rng, circuit, torch.as_tensor(inputs), torch.as_tensor(weights)


# --- noiseless limit -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_wukong_scale_zero_and_zero_noise_equal_state_vector(seed):
    n = 1 + seed % 4
    rng, circuit, inputs, weights = random_case(seed, n, batch=4, per_row_weights=seed % 2 == 1)
    expected = reference.evaluate(circuit, inputs.numpy(), weights.numpy())
    scaled_off = random_noise(rng, n, scale=0.0)
    for noise in (scaled_off, zero_noise(n)):
        got = noisy_probabilities(circuit, inputs, weights, noise)
        assert got.dtype == torch.float64 and got.shape == (4, 2**n)
        np.testing.assert_allclose(got.numpy(), expected, atol=1e-10)


def test_wukong_scale_zero_matches_emulator_on_adapter_circuit():
    n = 5
    circuit = build_qnn_circuit(n, 3, readout="probs", entangler="ring")
    rng = np.random.default_rng(3)
    inputs = torch.as_tensor(rng.uniform(-1, 1, (8, n)), dtype=torch.float32)
    weights = torch.as_tensor(rng.uniform(-np.pi, np.pi, circuit.n_weights), dtype=torch.float32)
    backend = qwthn.get_backend("emulator", dtype="complex128")
    expected = backend.evaluate(backend.compile(circuit), inputs.double(), weights.double())
    got = noisy_probabilities(circuit, inputs, weights, random_noise(rng, n, scale=0.0))
    np.testing.assert_allclose(got.numpy(), np.asarray(expected, dtype=np.float64), atol=1e-10)


# --- Qiskit Aer density-matrix cross-check ------------------------------------------------------------------


def aer_probabilities(circuit: Circuit, inputs: np.ndarray, weights: np.ndarray, noise: NoiseSpec) -> np.ndarray:
    """Exact noisy probabilities from Aer's density-matrix simulator, read-out error applied by its matrices."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error, thermal_relaxation_error

    n, s = circuit.n_qubits, noise.scale

    def thermal(wire: int, duration: float):
        spec = noise.wires[wire]
        return thermal_relaxation_error(spec.t1_ns / s, spec.t2_ns / s, duration)

    model = NoiseModel(basis_gates=["rx", "ry", "rz", "cz"])
    for wire in range(n):
        error = depolarizing_error(min(s * noise.wires[wire].depolarizing, 1.0), 1)
        model.add_quantum_error(error.compose(thermal(wire, noise.single_gate_ns)), ["rx", "ry"], [wire])
    for (a, b), lam in noise.pairs.items():
        if b >= n:
            continue
        for first, second in ((a, b), (b, a)):
            relax = thermal(first, noise.cz_gate_ns).expand(thermal(second, noise.cz_gate_ns))
            model.add_quantum_error(depolarizing_error(min(s * lam, 1.0), 2).compose(relax), ["cz"], [first, second])
    readout = []
    for wire in range(n):
        p00, p11 = noise.wires[wire].readout
        e0, e1 = min(s * (1 - p00), 0.5), min(s * (1 - p11), 0.5)
        readout.append(np.asarray(ReadoutError([[1 - e0, e0], [e1, 1 - e1]]).probabilities).T)
    batch = inputs.shape[0]
    weights = np.broadcast_to(weights, (batch, circuit.n_weights))
    circuits = []
    for row in range(batch):
        qc = QuantumCircuit(n)
        for gate in circuit.gates:
            if gate.name == "CZ":
                qc.cz(*gate.wires)
                continue
            angle = gate.angle
            value = angle.value if angle.source == "const" else (inputs if angle.source == "input" else weights)[
                row, angle.index
            ]
            getattr(qc, gate.name.lower())(float(value), gate.wires[0])
        qc.save_probabilities()
        circuits.append(qc)
    result = AerSimulator(method="density_matrix", noise_model=model).run(circuits).result()
    out = []
    confusion = readout[0]
    for matrix in readout[1:]:
        confusion = np.kron(confusion, matrix)
    for row in range(batch):
        little = np.asarray(result.data(row)["probabilities"], dtype=np.float64)
        big = little.reshape((2,) * n).transpose(tuple(reversed(range(n)))).reshape(-1)
        out.append(confusion @ big)
    return np.stack(out)


@pytest.mark.parametrize("seed", range(8))
def test_wukong_matches_aer_density_matrix(seed):
    pytest.importorskip("qiskit_aer")
    n = 1 + seed % 4
    rng, circuit, inputs, weights = random_case(100 + seed, n, batch=3, per_row_weights=seed % 3 == 0)
    noise = random_noise(rng, n, scale=(1.0, 2.5, 0.5)[seed % 3])
    got = noisy_probabilities(circuit, inputs, weights, noise).numpy()
    expected = aer_probabilities(circuit, inputs.numpy(), weights.numpy(), noise)
    np.testing.assert_allclose(got, expected, atol=1e-8)
    assert abs(got.sum(axis=1) - 1).max() < 1e-12


@pytest.mark.parametrize("n", [5, 6])
def test_wukong_matches_aer_on_longer_circuits(n):
    pytest.importorskip("qiskit_aer")
    rng, circuit, inputs, weights = random_case(200 + n, n, batch=2, per_row_weights=n == 6, n_gates=8 * n)
    noise = random_noise(rng, n, scale=1.5)
    got = noisy_probabilities(circuit, inputs.float(), weights.float(), noise)
    assert got.dtype == torch.float64
    expected = aer_probabilities(circuit, inputs.float().double().numpy(), weights.float().double().numpy(), noise)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-8)


def test_wukong_matches_aer_on_adapter_circuit_with_clamped_t2():
    pytest.importorskip("qiskit_aer")
    n = 4
    circuit = build_qnn_circuit(n, 2, readout="probs", encoding="rx")
    rng = np.random.default_rng(7)
    noise = random_noise(rng, n)
    # T2 > 2 T1 is clamped to 2 T1, as Aer requires.

    def with_t2(factor: float) -> NoiseSpec:
        wires = list(noise.wires)
        wires[1] = WireNoise(wires[1].depolarizing, wires[1].t1_ns, factor * wires[1].t1_ns, wires[1].readout)
        return NoiseSpec(tuple(wires), noise.pairs, noise.single_gate_ns, noise.cz_gate_ns)

    clamped, reference_noise = with_t2(3.0), with_t2(2.0)
    inputs = torch.as_tensor(rng.uniform(-1, 1, (2, n)))
    weights = torch.as_tensor(rng.uniform(-np.pi, np.pi, circuit.n_weights))
    got = noisy_probabilities(circuit, inputs, weights, clamped).numpy()
    expected = aer_probabilities(circuit, inputs.numpy(), weights.numpy(), reference_noise)
    np.testing.assert_allclose(got, expected, atol=1e-8)


# --- closed forms --------------------------------------------------------------------------------------------


def one_wire(depolarizing=0.0, t1=1e300, t2=1e300, readout=(1.0, 1.0), **kwargs) -> NoiseSpec:
    return NoiseSpec((WireNoise(depolarizing, t1, t2, readout),), **kwargs)


def single(*gates: Gate) -> Circuit:
    return Circuit(1, tuple(gates), n_inputs=0, n_weights=1, readout=Readout("probs"))


def run(circuit: Circuit, noise: NoiseSpec, weights=(0.0,)) -> np.ndarray:
    return noisy_probabilities(circuit, torch.zeros(1, 0), torch.tensor(weights, dtype=torch.float64), noise).numpy()[0]


def test_wukong_readout_closed_forms():
    noise = one_wire(readout=(0.956, 0.821))
    flip = single(Gate("RX", (0,), Angle.const(math.pi)))
    assert run(flip, noise)[1] == pytest.approx(0.821, abs=1e-12)
    assert run(single(), noise)[0] == pytest.approx(0.956, abs=1e-12)
    worse = one_wire(readout=(0.956, 0.821), scale=2.0)
    assert run(single(), worse)[0] == pytest.approx(1 - 2 * 0.044, abs=1e-12)
    capped = one_wire(readout=(0.956, 0.821), scale=10.0)
    assert run(flip, capped)[1] == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("lam", [0.0, 0.1, 0.37])
def test_wukong_depolarizing_scales_z(lam):
    circuit = single(Gate("RY", (0,), Angle.weight(0)))
    theta = 0.7
    probs = run(circuit, one_wire(depolarizing=lam), (theta,))
    assert probs[0] - probs[1] == pytest.approx((1 - lam) * math.cos(theta), abs=1e-12)
    doubled = run(circuit, one_wire(depolarizing=lam, scale=2.0), (theta,))
    assert doubled[0] - doubled[1] == pytest.approx((1 - min(2 * lam, 1)) * math.cos(theta), abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_wukong_t1_decay_after_k_gates(k):
    t1, duration = 2000.0, 100.0
    # RX(pi) prepares |1>; k - 1 RX(0) gates (physical, 100 ns each) let it decay k gate times in all.
    gates = [Gate("RX", (0,), Angle.const(math.pi))] + [Gate("RX", (0,), Angle.const(0.0))] * (k - 1)
    noise = one_wire(t1=t1, t2=t1, single_gate_ns=duration)
    assert run(single(*gates), noise)[1] == pytest.approx(math.exp(-k * duration / t1), abs=1e-12)
    # RZ is virtual: no decay.
    virtual = [gates[0]] + [Gate("RZ", (0,), Angle.const(0.3))] * 4
    assert run(single(*virtual), noise)[1] == pytest.approx(math.exp(-duration / t1), abs=1e-12)
    # scale multiplies the rate.
    faster = one_wire(t1=t1, t2=t1, single_gate_ns=duration, scale=3.0)
    assert run(single(*gates), faster)[1] == pytest.approx(math.exp(-3 * k * duration / t1), abs=1e-12)


def test_wukong_t2_dephasing_closed_form():
    t1, t2, duration = 5000.0, 1500.0, 200.0
    # RY(pi/2) makes <X> = 1, z = 0; amplitude damping then pulls z up to gamma = 1 - exp(-t/T1).
    circuit = single(Gate("RY", (0,), Angle.const(math.pi / 2)), Gate("RZ", (0,), Angle.const(0.0)))
    probs = run(circuit, one_wire(t1=t1, t2=t2, single_gate_ns=duration))
    assert probs[0] - probs[1] == pytest.approx(1 - math.exp(-duration / t1), abs=1e-12)
    back = single(Gate("RY", (0,), Angle.const(math.pi / 2)), Gate("RY", (0,), Angle.const(-math.pi / 2)))
    probs = run(back, one_wire(t1=1e300, t2=t2, single_gate_ns=duration))
    # the first gate's dephasing shrinks <X> to exp(-t/T2); the second rotates it onto <Z> (no T1 decay).
    assert probs[0] - probs[1] == pytest.approx(math.exp(-duration / t2), abs=1e-12)


# --- mitigation and sampling --------------------------------------------------------------------------------


def test_wukong_mitigation_inverts_pure_readout_error():
    n = 3
    rng, circuit, inputs, weights = random_case(11, n, batch=5)
    noise = random_noise(rng, n)
    readout_only = NoiseSpec(
        tuple(WireNoise(0.0, 1e300, 1e300, w.readout) for w in noise.wires), {p: 0.0 for p in noise.pairs}
    )
    ideal = reference.evaluate(circuit, inputs.numpy(), weights.numpy())
    measured = noisy_probabilities(circuit, inputs, weights, readout_only)
    assert np.abs(measured.numpy() - ideal).max() > 1e-3
    for clip in (True, False):
        mitigated = mitigate_readout(measured, readout_only, clip=clip)
        np.testing.assert_allclose(mitigated.numpy(), ideal, atol=1e-10)
    # readout=False gives the pre-measurement distribution, which mitigation recovers too.
    np.testing.assert_allclose(
        mitigate_readout(noisy_probabilities(circuit, inputs, weights, noise), noise).numpy(),
        noisy_probabilities(circuit, inputs, weights, noise, readout=False).numpy(),
        atol=1e-10,
    )


def test_wukong_mitigation_helps_with_gate_noise():
    n = 4
    circuit = build_qnn_circuit(n, 2, readout="probs")
    rng = np.random.default_rng(5)
    inputs = torch.as_tensor(rng.uniform(-1, 1, (16, n)))
    weights = torch.as_tensor(rng.uniform(-np.pi, np.pi, circuit.n_weights))
    wires = tuple(WireNoise(0.004, 18000.0, 5000.0, (0.956, 0.821)) for _ in range(n))
    noise = NoiseSpec(wires, {(a, a + 1): 0.049 for a in range(n - 1)})
    ideal = reference.evaluate(circuit, inputs.numpy(), weights.numpy())
    measured = noisy_probabilities(circuit, inputs, weights, noise).numpy()
    mitigated = mitigate_readout(torch.as_tensor(measured), noise).numpy()
    assert np.abs(mitigated - ideal).sum(axis=1).mean() < 0.6 * np.abs(measured - ideal).sum(axis=1).mean()
    assert np.all(mitigated >= 0) and np.allclose(mitigated.sum(axis=1), 1)


def test_wukong_sampling_is_seeded():
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    first = sample_probabilities(probs, 1000, seed=3)
    assert torch.equal(first, sample_probabilities(probs, 1000, seed=3))
    assert not torch.equal(first, sample_probabilities(probs, 1000, seed=4))
    assert torch.allclose(first.sum(dim=1), torch.ones(2, dtype=torch.float64))
    assert first[1, 0] == 1.0 and (first[0] - probs[0]).abs().max() < 0.06
    assert torch.allclose(first * 1000, (first * 1000).round())


def test_wukong_missing_pair_and_bad_scale_raise():
    circuit = Circuit(2, (Gate("CZ", (0, 1)),), 0, 0, readout=Readout("probs"))
    noise = zero_noise(2)
    with pytest.raises(ValueError, match="pair"):
        noisy_probabilities(circuit, torch.zeros(1, 0), torch.zeros(0), NoiseSpec(noise.wires, {}))
    with pytest.raises(ValueError, match="scale"):
        noisy_probabilities(circuit, torch.zeros(1, 0), torch.zeros(0), zero_noise(2, scale=-1.0))
