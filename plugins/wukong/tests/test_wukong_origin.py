"""pyqpanda3 route of the Wukong plugin: translation, noise model, local CPUQVM runs, cloud batching (faked)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pyqpanda3")

from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.errors import BackendTimeoutError, CapabilityError, QwthnError, TransientBackendError
from qwthn_wukong.engine import noisy_probabilities
from qwthn_wukong.noise_spec import NoiseSpec, WireNoise
from qwthn_wukong.origin import (
    API_KEY_ENV,
    CloudRunner,
    bind_angles,
    exact_local,
    little_to_big,
    probs_from_dict,
    run_local,
    to_qprogs,
)
from qwthn_wukong.origin.noise import minimal_kraus, pair_kraus, readout_matrix, single_kraus

NATIVE = ("RX", "RY", "RZ", "CZ")
EXTENDED = ("RX", "RY", "RZ", "CZ", "H", "X", "CNOT")


def median_spec(n: int, scale: float = 1.0, vary: bool = False) -> NoiseSpec:
    """λ1 0.004, λ2 0.05, T1 18 us, T2 5 us, readout (0.956, 0.821); `vary` makes the wires differ."""
    k = 1.0 if vary else 0.0
    wires = tuple(
        WireNoise(0.004 * (1 + 0.5 * k * i), 18000.0 * (1 + 0.3 * k * i), 5000.0 * (1 + 0.2 * k * i), (0.956, 0.821))
        for i in range(n)
    )
    pairs = {(a, b): 0.05 for a in range(n) for b in range(a + 1, n)}
    return NoiseSpec(wires, pairs, scale=scale)


def random_circuit(rng: np.random.Generator, n: int, depth: int, names: tuple[str, ...] = NATIVE) -> Circuit:
    gates, n_weights = [], 0
    allowed = [name for name in names if n > 1 or name not in ("CZ", "CNOT")]
    for _ in range(depth):
        name = str(rng.choice(allowed))
        if name in ("CZ", "CNOT"):
            a, b = rng.choice(n, 2, replace=False)
            gates.append(Gate(name, (int(a), int(b))))
        elif name in ("H", "X"):
            gates.append(Gate(name, (int(rng.integers(n)),)))
        else:
            gates.append(Gate(name, (int(rng.integers(n)),), Angle.weight(n_weights)))
            n_weights += 1
    return Circuit(n, tuple(gates), 0, n_weights, Readout("probs"))


def assert_within_shot_noise(freqs: torch.Tensor, probs: torch.Tensor, shots: int, sigmas: float = 5.0) -> None:
    p = probs.numpy()
    bound = sigmas * np.sqrt(np.clip(p * (1 - p), 0, None) / shots) + 2.0 / shots
    excess = np.abs(freqs.numpy() - p) - bound
    assert (excess <= 0).all(), f"max |f - p| beyond {sigmas} sigma by {excess.max():.4g}"


# --- translation and ordering ----------------------------------------------------------------------


def test_x_on_wire_zero_is_most_significant() -> None:
    circuit = Circuit(3, (Gate("X", (0,)),), 0, 0, Readout("probs"))
    expected = torch.zeros(1, 8, dtype=torch.float64)
    expected[0, 4] = 1.0  # |100>: wire 0 is the most significant bit
    assert torch.equal(run_local(circuit, torch.zeros(1, 0), torch.zeros(0), shots=50), expected)
    assert torch.allclose(exact_local(circuit, torch.zeros(1, 0), torch.zeros(0)), expected)


def test_endianness_helpers() -> None:
    assert probs_from_dict({"001": 1.0}, 3).tolist() == [0, 0, 0, 0, 1, 0, 0, 0]  # cbit 0 rightmost
    assert probs_from_dict({"011": 0.25, "110": 0.75}, 3)[[6, 3]].tolist() == [0.25, 0.75]
    assert probs_from_dict({"0x1": 1.0}, 2).tolist() == [0, 0, 1, 0]
    little = np.arange(8.0)  # little index i has qubit 0 at bit 0
    big = little_to_big(little, 3)
    assert big[4] == little[1] and big[1] == little[4] and big[3] == little[6]
    assert little_to_big(np.stack([little, little]), 3).shape == (2, 8)


def test_bind_angles_and_one_program_per_row() -> None:
    circuit = Circuit(
        2,
        (
            Gate("RX", (0,), Angle.input(1)),
            Gate("RY", (1,), Angle.weight(0)),
            Gate("CZ", (1, 0)),
            Gate("RZ", (0,), Angle.const(0.5)),
        ),
        2,
        1,
    )
    inputs = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    angles = bind_angles(circuit, inputs, torch.tensor([0.7]))
    assert angles.shape == (3, 4)
    np.testing.assert_allclose(angles[:, 0], [0.2, 0.4, 0.6], rtol=1e-6)
    np.testing.assert_allclose(angles[:, 1], 0.7, rtol=1e-6)
    assert np.isnan(angles[:, 2]).all() and (angles[:, 3] == 0.5).all()
    per_row = bind_angles(circuit, inputs, torch.tensor([[1.0], [2.0], [3.0]]))
    assert per_row[:, 1].tolist() == [1.0, 2.0, 3.0]
    assert len(to_qprogs(circuit, inputs, torch.tensor([0.7]))) == 3


def test_unsupported_gate_is_a_capability_error() -> None:
    circuit = Circuit(2, (Gate("CRX", (0, 1), Angle.const(0.3)),), 0, 0)
    with pytest.raises(CapabilityError, match="CRX"):
        to_qprogs(circuit, torch.zeros(1, 0), torch.zeros(0))


# --- noise model ---------------------------------------------------------------------------------


def test_kraus_sets_are_trace_preserving_and_minimal() -> None:
    spec = median_spec(2, vary=True)
    for ops, d in ((single_kraus(spec, 1), 2), (pair_kraus(spec, 0, 1), 4)):
        assert len(ops) <= d * d
        total = sum(op.conj().T @ op for op in ops)
        np.testing.assert_allclose(total, np.eye(d), atol=1e-12)
    assert len(minimal_kraus([np.eye(2) / np.sqrt(2)] * 2)) == 1


def test_readout_matrix_rows_are_prepared_states() -> None:
    matrix = readout_matrix(median_spec(1), 0)
    np.testing.assert_allclose(matrix, [[0.956, 0.044], [0.179, 0.821]], atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("scale", [0.0, 1.0, 5.0])
def test_density_matrix_simulator_matches_engine_exactly(n: int, scale: float) -> None:
    rng = np.random.default_rng(10 * n + int(scale))
    circuit = random_circuit(rng, n, 14)
    weights = torch.tensor(rng.uniform(-3, 3, (2, circuit.n_weights)))
    spec = median_spec(n, scale, vary=True)
    engine = noisy_probabilities(circuit, torch.zeros(2, 0), weights, spec)
    origin = exact_local(circuit, torch.zeros(2, 0), weights, spec)
    assert torch.allclose(origin, engine, atol=1e-10)
    engine_raw = noisy_probabilities(circuit, torch.zeros(2, 0), weights, spec, readout=False)
    assert torch.allclose(exact_local(circuit, torch.zeros(2, 0), weights, spec, readout=False), engine_raw, atol=1e-10)


def test_extended_gates_exact_with_uniform_wires_and_cnot_swap_is_small() -> None:
    rng = np.random.default_rng(7)
    circuit = random_circuit(rng, 3, 16, EXTENDED)
    weights = torch.tensor(rng.uniform(-3, 3, circuit.n_weights))
    x = torch.zeros(1, 0)
    uniform = median_spec(3)
    assert torch.allclose(
        exact_local(circuit, x, weights, uniform), noisy_probabilities(circuit, x, weights, uniform), atol=1e-10
    )
    # Documented approximation: CNOT(c, t), c > t, relaxes the two wires with each other's T1/T2.
    varied = median_spec(3, vary=True)
    gap = (exact_local(circuit, x, weights, varied) - noisy_probabilities(circuit, x, weights, varied)).abs().max()
    assert float(gap) < 2e-3


# --- CPUQVM sampling against the exact engine ----------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_noiseless_cpuqvm_matches_engine(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    circuit = random_circuit(rng, n, 10)
    weights = torch.tensor(rng.uniform(-3, 3, (2, circuit.n_weights)))
    shots = 4000
    exact = noisy_probabilities(circuit, torch.zeros(2, 0), weights, median_spec(n, 0.0))
    assert_within_shot_noise(run_local(circuit, torch.zeros(2, 0), weights, shots=shots), exact, shots)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("n", "shots"), [(1, 20000), (2, 10000), (3, 5000)])
def test_noisy_cpuqvm_matches_engine(n: int, shots: int, seed: int) -> None:
    rng = np.random.default_rng(200 + 10 * seed + n)
    circuit = random_circuit(rng, n, 10)
    weights = torch.tensor(rng.uniform(-3, 3, (2, circuit.n_weights)))
    spec = median_spec(n, vary=True)
    exact = noisy_probabilities(circuit, torch.zeros(2, 0), weights, spec)
    freqs = run_local(circuit, torch.zeros(2, 0), weights, spec, shots=shots)
    assert_within_shot_noise(freqs, exact, shots)


def test_cpuqvm_applies_readout_errors() -> None:
    circuit = Circuit(1, (Gate("X", (0,)),), 0, 0, Readout("probs"))
    spec, shots = median_spec(1), 20000
    freqs = run_local(circuit, torch.zeros(1, 0), torch.zeros(0), spec, shots=shots)
    exact = noisy_probabilities(circuit, torch.zeros(1, 0), torch.zeros(0), spec)
    assert exact[0, 0] > 0.17  # mostly the 1 - P(1|1) = 0.179 read-out error
    assert_within_shot_noise(freqs, exact, shots)


# --- cloud, with a fake service -------------------------------------------------------------------


class FakeResult:
    def __init__(self, probs: list[dict[str, float]]) -> None:
        self.probs = probs

    def get_probs_list(self) -> list[dict[str, float]]:
        return self.probs

    def error_message(self) -> str:
        return "chip offline"


class FakeJob:
    def __init__(self, progs: list[int], statuses: list[str]) -> None:
        self.progs, self.statuses = progs, list(statuses)

    def status(self) -> str:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def result(self) -> FakeResult:
        # program k (an int here) "measures" k mod 4 on two qubits, as a bit string with cbit 0 rightmost
        return FakeResult([{format(p % 4, "02b"): 1.0} for p in self.progs])


class FakeBackend:
    def __init__(self, statuses: list[str]) -> None:
        self.calls: list[tuple[list[int], int, object]] = []
        self.statuses = statuses

    def run(self, progs: list[int], shots: int, options: object = None) -> FakeJob:
        self.calls.append((progs, shots, options))
        return FakeJob(progs, self.statuses)


class FakeService:
    def __init__(self, statuses: list[str] | None = None) -> None:
        self.backend_obj = FakeBackend(statuses or ["FINISHED"])
        self.names: list[str] = []

    def backend(self, name: str) -> FakeBackend:
        self.names.append(name)
        return self.backend_obj


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_cloud_groups_of_at_most_200_in_order() -> None:
    service = FakeService(["QUEUING", "COMPUTING", "FINISHED"])
    clock = FakeClock()
    runner = CloudRunner("72", service=service, options="opts", clock=clock, sleep=clock.sleep)
    progs = list(range(450))
    probs = runner.run(progs, shots=1000, n_qubits=2).result(timeout=60)
    calls = service.backend_obj.calls
    assert service.names == ["72"]
    assert [len(c[0]) for c in calls] == [200, 200, 50]
    assert [c[0][0] for c in calls] == [0, 200, 400] and all(c[1:] == (1000, "opts") for c in calls)
    assert probs.shape == (450, 4) and probs.dtype == torch.float64
    # program k read k mod 4 little-endian -> big-endian index of the reversed bits
    expected = [int(format(k % 4, "02b"), 2) for k in progs]
    expected = [int(format(e, "02b")[::-1], 2) for e in expected]
    assert probs.argmax(dim=1).tolist() == expected


def test_cloud_timeout_is_retryable() -> None:
    clock = FakeClock()
    runner = CloudRunner("72", service=FakeService(["QUEUING"]), clock=clock, sleep=clock.sleep, poll_s=2.0)
    job = runner.run([1, 2, 3], shots=100, n_qubits=2)
    with pytest.raises(BackendTimeoutError) as info:
        job.result(timeout=10)
    assert isinstance(info.value, TransientBackendError) and isinstance(info.value, TimeoutError)
    assert clock.now == pytest.approx(10.0)


def test_cloud_failed_job_is_transient_with_message() -> None:
    runner = CloudRunner("72", service=FakeService(["FAILED"]))
    with pytest.raises(TransientBackendError, match="chip offline"):
        runner.run([1], shots=100, n_qubits=2).result(timeout=5)


def test_cloud_missing_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    runner = CloudRunner("72")
    with pytest.raises(QwthnError) as info:
        runner.run([1], shots=100, n_qubits=1)
    message = str(info.value)
    assert API_KEY_ENV in message and "\n" not in message


def test_cloud_rejects_bad_batch_size() -> None:
    with pytest.raises(ValueError):
        CloudRunner("72", service=FakeService(), batch_size=201)


def test_the_backend_runs_the_same_chip_on_origins_sdk():
    """`simulator="pyqpanda3"`: the placed, native, noisy program on pyqpanda3 equals our engine's run."""
    import torch

    from qwthn import get_backend
    from qwthn.methods.qwthn.ansatz import build_qnn_circuit
    from qwthn.runtime import QuantumLayer, Runtime

    circuit = build_qnn_circuit(3, 2)
    inputs = torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 3
    values = {}
    for simulator in ("qwthn", "pyqpanda3"):
        layer = QuantumLayer(circuit, Runtime(get_backend("wukong", simulator=simulator)), init_seed=1).double()
        with torch.no_grad():
            values[simulator] = layer(inputs)
    torch.testing.assert_close(values["pyqpanda3"], values["qwthn"], atol=1e-10, rtol=0)
    ideal = QuantumLayer(circuit, Runtime(get_backend("emulator", dtype="complex128")), init_seed=1).double()
    assert not torch.allclose(values["qwthn"], ideal(inputs).detach(), atol=1e-3)  # the noise did act


class QVMCloudBackend:
    """A stand-in for Origin's cloud backend that runs each submitted QProg on pyqpanda3's local CPUQVM."""

    def __init__(self) -> None:
        self.groups: list[int] = []

    def run(self, progs: list, shots: int, options: object = None) -> QVMCloudJob:
        from pyqpanda3.core import CPUQVM

        self.groups.append(len(progs))
        dicts = []
        for prog in progs:
            qvm = CPUQVM()
            qvm.run(prog, shots)
            counts = qvm.result().get_counts()
            dicts.append({key: value / shots for key, value in counts.items()})
        return QVMCloudJob(dicts)


class QVMCloudJob:
    def __init__(self, probs: list[dict[str, float]]) -> None:
        self.probs = probs

    def status(self) -> str:
        return "FINISHED"

    def result(self) -> FakeResult:
        return FakeResult(self.probs)


def test_origin_cloud_option_runs_the_placed_programs_through_the_runtime(monkeypatch):
    """simulator='origin-cloud': programs on the placed physical qubits, groups of <= 200 through the runtime."""
    import torch

    from qwthn import get_backend
    from qwthn.runtime import QuantumLayer, Runtime
    from qwthn_wukong.origin import cloud

    qvm = QVMCloudBackend()
    monkeypatch.setattr(cloud, "default_service", lambda: type("Service", (), {"backend": lambda self, name: qvm})())
    backend = get_backend("wukong", simulator="origin-cloud", layout=[2, 1])
    caps = backend.capabilities
    assert (caps.exact, caps.remote, caps.max_batch) == (False, True, 200)
    circuit = Circuit(2, (Gate("RY", (0,), Angle.input(0)), Gate("CZ", (0, 1)), Gate("RX", (1,), Angle.weight(0))),
                      n_inputs=1, n_weights=1, readout=Readout("probs"))  # fmt: skip
    runtime = Runtime(backend, shots=2000, seed=0)
    layer = QuantumLayer(circuit, runtime, init_seed=0).double()
    inputs = torch.full((250, 1), 1.1, dtype=torch.float64)
    with torch.no_grad():
        measured = layer(inputs)
    assert qvm.groups == [200, 50] and runtime.tracker.calls == 2  # the runtime's chunks are the cloud groups
    ideal = QuantumLayer(circuit, Runtime(get_backend("emulator", dtype="complex128")), init_seed=0).double()
    expected = ideal(inputs[:1]).detach()[0]
    mean = measured.mean(dim=0)  # 250 x 2000 noiseless shots of one distribution
    assert torch.allclose(mean, expected, atol=5 * float(torch.sqrt(expected * (1 - expected) / 500_000).max()) + 1e-3)


def test_origin_cloud_without_an_api_key_is_a_one_line_error(monkeypatch):
    import torch

    from qwthn import get_backend
    from qwthn.runtime import QuantumLayer, Runtime

    monkeypatch.delenv(API_KEY_ENV, raising=False)
    layer = QuantumLayer(Circuit(1, (Gate("X", (0,)),), 0, 0), Runtime(get_backend("wukong", simulator="origin-cloud"),
                                                                       shots=10))  # fmt: skip
    with pytest.raises(QwthnError, match=f"set the environment variable {API_KEY_ENV}"):
        layer(torch.zeros(1, 0))
