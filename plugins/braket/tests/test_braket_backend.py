"""The Braket backend on the local simulators: options, capabilities, translation, shots and seeds, noise."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from qwthn import OptionsError, Runtime, get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.runtime import QuantumLayer
from qwthn.testing import reference
from qwthn.testing.harness import shot_bound
from qwthn_braket.backend import BraketBackend

THETAS = torch.tensor([[0.0], [0.4], [1.3], [2.9]], dtype=torch.float64)


def braket(**options) -> BraketBackend:
    return get_backend("braket", **options)


def run(backend: BraketBackend, circuit: Circuit, inputs, weights=None, **kwargs) -> np.ndarray:
    inputs = torch.as_tensor(np.asarray(inputs), dtype=torch.float64)
    weights = torch.zeros(circuit.n_weights, dtype=torch.float64) if weights is None else torch.as_tensor(weights)
    return backend.evaluate(backend.compile(circuit), inputs, weights, **kwargs).numpy()


def ry(n_qubits: int = 1, readout: Readout | None = None) -> Circuit:
    return Circuit(n_qubits, (Gate("RY", (0,), Angle.input(0)),), 1, 0, readout or Readout())


# --- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"device": "braket_gpu"}, "device"),
        ({"device": "arn:aws:s3:::bucket"}, "device"),
        ({"depolarizing": 0.1}, "depolarizing"),  # noise needs braket_dm
        ({"device": "braket_dm", "depolarizing": 0.8}, "depolarizing"),
        ({"device": "braket_dm", "readout_error": -0.1}, "readout_error"),
        ({"max_parallel": 0}, "max_parallel"),
        ({"max_batch": 0}, "max_batch"),
        ({"poll_interval": 0.0}, "poll_interval"),
        ({"shots": 100}, "shots"),
    ],
)
def test_bad_option_is_refused_by_name(options, named) -> None:
    with pytest.raises(OptionsError, match=named):
        braket(**options)


def test_registered_through_the_entry_point() -> None:
    backend = braket()
    assert isinstance(backend, BraketBackend) and backend.options.device == "braket_sv"


# --- capabilities -----------------------------------------------------------------------------


def test_local_capabilities_come_from_the_simulators_properties() -> None:
    sv, dm = braket().capabilities, braket(device="braket_dm").capabilities
    assert (sv.max_qubits, dm.max_qubits) == (26, 13)
    assert sv.native_gates == {"RX", "RY", "RZ", "H", "X", "CZ", "CNOT", "CRX", "CRY", "CRZ"}
    assert sv.max_batch == 100  # the program-set limit LocalSimulator advertises (maximumExecutables)
    assert sv.max_shots == 200_000  # and its maximumTotalShots: one row may take at most one set's shots
    assert sv.qubit_ordering == "big" and sv.exact and sv.supports_shots and not sv.remote
    assert not sv.supports_noise and not dm.supports_noise
    assert braket(device="braket_dm", readout_error=0.01).capabilities.supports_noise
    assert braket(max_batch=5).capabilities.max_batch == 5
    assert braket(max_batch=500).capabilities.max_batch == 100


def test_runtime_chunks_to_max_batch_and_keeps_row_order() -> None:
    circuit = ry()
    runtime = Runtime(braket(max_batch=3))
    inputs = torch.linspace(-3, 3, 8, dtype=torch.float64)[:, None]
    outputs = runtime.execute(runtime.prepare(circuit), inputs, torch.zeros(0), runtime.seed_stream())
    assert runtime.tracker.calls == 3
    np.testing.assert_allclose(outputs[:, 0].numpy(), np.cos(inputs[:, 0].numpy()), atol=1e-12)


# --- translation ----------------------------------------------------------------------------------


def test_probabilities_put_wire_zero_first() -> None:
    circuit = Circuit(2, (Gate("X", (0,)),), 0, 0, Readout("probs"))
    np.testing.assert_allclose(run(braket(), circuit, np.zeros((1, 0))), [[0, 0, 1, 0]])


def test_controlled_rotations_match_the_gate_table() -> None:
    gates = (
        Gate("H", (0,)), Gate("RY", (1,), Angle.input(0)), Gate("H", (2,)),
        Gate("CRX", (0, 1), Angle.weight(0)), Gate("CRY", (1, 2), Angle.input(1)),
        Gate("CRZ", (2, 0), Angle.weight(1)), Gate("H", (0,)), Gate("CRY", (0, 2), Angle.const(-0.9)),
    )  # fmt: skip
    circuit = Circuit(3, gates, 2, 2, Readout("probs"))
    rng = np.random.default_rng(3)
    inputs, weights = rng.uniform(-3, 3, (3, 2)), rng.uniform(-3, 3, (3, 2))
    got = run(braket(), circuit, inputs, torch.tensor(weights))
    np.testing.assert_allclose(got, reference.evaluate(circuit, inputs, weights), atol=1e-12)


def test_idle_wires_are_declared_and_read_out() -> None:
    # no gate touches wires 1 and 2: Braket would declare one qubit only without the identities
    probs = run(braket(), ry(3, Readout("probs")), THETAS)
    expected = np.zeros((4, 8))
    expected[:, 0], expected[:, 4] = np.cos(THETAS[:, 0].numpy() / 2) ** 2, np.sin(THETAS[:, 0].numpy() / 2) ** 2
    np.testing.assert_allclose(probs, expected, atol=1e-12)
    z = run(braket(), ry(3, Readout("expval_z", (2, 0, 2))), THETAS)  # repeated wires read out twice
    np.testing.assert_allclose(z, np.stack([np.ones(4), np.cos(THETAS[:, 0].numpy()), np.ones(4)], axis=1), atol=1e-12)


def test_empty_batch_gives_empty_rows() -> None:
    assert run(braket(), ry(2, Readout("probs")), np.zeros((0, 1))).shape == (0, 4)


# --- shots and seeds ---------------------------------------------------------------------------


def test_shots_follow_the_seed() -> None:
    backend, circuit = braket(), ry(2, Readout("probs"))
    compiled = backend.compile(circuit)
    inputs = THETAS.expand(-1, 1)

    def sample(seed: int) -> torch.Tensor:
        return backend.evaluate(compiled, inputs, torch.zeros(0), shots=200, seed=seed)

    first, again, other = sample(5), sample(5), sample(6)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    expected = reference.evaluate(circuit, inputs.numpy(), np.zeros(0))
    assert np.all(np.abs(first.numpy() - expected) <= shot_bound(expected, "probs", 200))
    # counts are multiples of 1/shots
    np.testing.assert_allclose(first.numpy() * 200, np.round(first.numpy() * 200), atol=1e-9)


def test_rows_over_one_program_sets_total_shots_split_into_several_sets() -> None:
    backend = braket()
    backend._limits = dataclasses.replace(backend.limits, max_total_shots=300)  # LocalSimulator's is 200000
    circuit = ry(1)
    inputs = torch.linspace(0, 3, 5, dtype=torch.float64)[:, None]
    job = backend.submit(backend.compile(circuit), inputs, torch.zeros(0), shots=100, seed=9)
    assert len(job.tasks) == 2  # 3 rows x 100 shots fit one set, then 2 rows
    values = job.result().numpy()
    expected = np.cos(inputs.numpy())
    assert np.all(np.abs(values - expected) <= shot_bound(expected, "expval_z", 100))
    again = backend.submit(backend.compile(circuit), inputs, torch.zeros(0), shots=100, seed=9).result()
    assert np.array_equal(values, again.numpy())


# --- noise (braket_dm) --------------------------------------------------------------------------


@pytest.mark.parametrize(("p", "q"), [(0.1, 0.0), (0.0, 0.15), (0.2, 0.05)])
def test_noise_matches_closed_forms(p: float, q: float) -> None:
    """One RY then Depolarizing(p) (Braket convention: <Z> x (1 - 4p/3)) and a read-out BitFlip(q) (x (1 - 2q))."""
    backend = braket(device="braket_dm", depolarizing=p, readout_error=q)
    circuit = ry(2, Readout("expval_z", (0, 1)))
    z = run(backend, circuit, THETAS)
    shrink = (1 - 4 * p / 3) * (1 - 2 * q)
    np.testing.assert_allclose(z[:, 0], shrink * np.cos(THETAS[:, 0].numpy()), atol=1e-12)
    np.testing.assert_allclose(z[:, 1], (1 - 2 * q) * np.ones(4), atol=1e-12)  # the idle wire gets no gate noise
    probs = run(backend, ry(1, Readout("probs")), THETAS)
    np.testing.assert_allclose(probs[:, 0] - probs[:, 1], shrink * np.cos(THETAS[:, 0].numpy()), atol=1e-12)


def test_two_qubit_gates_depolarize_both_qubits() -> None:
    p = 0.12
    circuit = Circuit(2, (Gate("CNOT", (0, 1)),), 0, 0, Readout("expval_z", (0, 1)))
    z = run(braket(device="braket_dm", depolarizing=p), circuit, np.zeros((1, 0)))
    np.testing.assert_allclose(z, [[1 - 4 * p / 3, 1 - 4 * p / 3]], atol=1e-12)


def test_noisy_shots_are_seeded_and_near_the_noisy_value() -> None:
    backend = braket(device="braket_dm", depolarizing=0.1, readout_error=0.05)
    layer = QuantumLayer(ry(1), Runtime(backend, shots=400, seed=3))
    first = layer(THETAS).detach().numpy()
    again = QuantumLayer(ry(1), Runtime(backend, shots=400, seed=3))(THETAS).detach().numpy()
    assert np.array_equal(first, again)
    expected = (1 - 0.4 / 3) * 0.9 * np.cos(THETAS.numpy())
    assert np.all(np.abs(first - expected) <= shot_bound(expected, "expval_z", 400))
    assert not math.isclose(float(first[0, 0]), 1.0)  # noise is visible even at theta = 0
