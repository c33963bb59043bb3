"""The execution runtime: one compile per circuit, chunking, submit-then-collect, retries, seeds, tracker, vjp."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from qwthn import BackendExecutionError, CapabilityError, QuantumBackend, QWTHNConfig, get_backend
from qwthn.contract.backend import CompletedJob
from qwthn.methods.qwthn import QWTHNLinear
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime


@pytest.fixture
def plugins(install_plugin):
    install_plugin("qwthn-test-backends", "0.1", "numpy-test", "numpy_backend")


def flaky(**options) -> QuantumBackend:
    from flaky_backend import FlakyBackend, FlakyOptions

    return FlakyBackend(FlakyOptions(**options))


class TwoAdaptedLayers(nn.Module):
    """Two QWTHN layers of one model sharing one runtime, as inject_adapter builds them."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.first = QWTHNLinear(nn.Linear(6, 6), QWTHNConfig(n_qubits=3, seed=1), runtime)
        self.second = QWTHNLinear(nn.Linear(6, 6), QWTHNConfig(n_qubits=3, seed=2), runtime)
        for layer in (self.first, self.second):  # a non-zero up-map, so gradients reach every parameter
            for core in layer.up.cores:
                core.data = torch.randn(core.shape, generator=generator) * 0.3

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.second(torch.tanh(self.first(inputs)))


def train(runtime: Runtime, steps: int = 4) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = TwoAdaptedLayers(runtime)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    data = torch.randn(11, 6, generator=torch.Generator().manual_seed(5))
    for _ in range(steps):
        optimizer.zero_grad()
        model(data).pow(2).mean().backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters() if p.requires_grad]


@pytest.mark.reliability(
    kind='fault', surface='runtime',
    tried='random failures and timeouts under autograd and parameter shift',
    held='results bit-identical to a fault-free run; retried chunks counted once',
)
@pytest.mark.parametrize("gradient", ["autograd", "parameter-shift"])
def test_training_through_faults_equals_a_fault_free_run(gradient, reliability):
    settings = {"shots": 64, "seed": 7}
    clean = Runtime(flaky(failure_rate=0, slow_rate=0, gradient=gradient, max_batch=5), **settings)
    faulty = Runtime(
        flaky(failure_rate=0.3, slow_rate=0.3, slow_seconds=0.02, gradient=gradient, max_batch=5, fault_seed=3),
        timeout=0.005, retries=30, retry_backoff=0, **settings,
    )  # fmt: skip
    expected, observed = train(clean), train(faulty)
    reliability.answer(f"{faulty.backend.failures} failures, {faulty.tracker.retries} retries; "
                       f"{sum(torch.equal(a, b) for a, b in zip(observed, expected, strict=True))} of {len(expected)} "
                       f"trained tensors bit-identical; {faulty.tracker.calls} calls counted, fault-free "
                       f"{clean.tracker.calls}")  # fmt: skip
    for ours, theirs in zip(observed, expected, strict=True):
        assert torch.equal(ours, theirs)
    assert faulty.backend.failures > 0 and faulty.tracker.retries > faulty.backend.failures  # timeouts retried too
    # a retried chunk is counted once, when its result arrives
    assert (faulty.tracker.calls, faulty.tracker.rows, faulty.tracker.shots) == (
        clean.tracker.calls, clean.tracker.rows, clean.tracker.shots,
    )  # fmt: skip
    assert clean.tracker.calls > clean.tracker.rows / 5 - 1  # chunks of at most max_batch rows


def test_two_layers_compile_their_shared_circuit_once():
    runtime = Runtime(get_backend("emulator"))
    model = TwoAdaptedLayers(runtime)
    model(torch.randn(4, 6))
    assert runtime.tracker.circuits == 1 and runtime.tracker.calls == 2


@pytest.mark.reliability(
    kind='fault', surface='runtime',
    tried='a backend that always fails',
    held='three attempts, then one line naming the backend and the last cause',
)
def test_retries_are_bounded_and_end_in_one_line(reliability):
    runtime = Runtime(flaky(failure_rate=1.0), retries=2, retry_backoff=0)
    layer = QuantumLayer(build_qnn_circuit(2, 1), runtime)
    with pytest.raises(BackendExecutionError) as caught:
        layer(torch.zeros(3, 2))
    message = str(caught.value)
    reliability.answer(f"{type(caught.value).__name__}: {message}")
    assert "failed 3 times on one chunk of 3 rows (last: connection reset by peer)" in message and "\n" not in message
    assert (runtime.tracker.retries, runtime.tracker.calls) == (2, 0)


class RecordingBackend(QuantumBackend):
    """Records the order of submissions and collections; fails with a real (non-transient) error on demand."""

    name = "recording-test"

    def __init__(self, max_batch: int, error: Exception | None = None) -> None:
        super().__init__()
        self.inner, self.max_batch, self.error, self.events = get_backend("emulator"), max_batch, error, []

    @property
    def capabilities(self):
        return self.inner.capabilities.model_copy(update={"max_batch": self.max_batch})

    def compile(self, circuit):
        return self.inner.compile(circuit)

    def evaluate(self, compiled, inputs, weights, *, shots=None, seed=None):
        if self.error is not None:
            raise self.error
        return self.inner.evaluate(compiled, inputs, weights, shots=shots, seed=seed)

    def submit(self, compiled, inputs, weights, *, shots=None, seed=None):
        self.events.append(("submit", inputs.shape[0]))
        value = self.evaluate(compiled, inputs, weights, shots=shots, seed=seed)
        events = self.events

        class Job(CompletedJob):
            def result(self, timeout=None):
                events.append(("collect", value.shape[0]))
                return value

        return Job(value)


def test_every_chunk_is_submitted_before_any_is_collected():
    backend = RecordingBackend(max_batch=4)
    runtime = Runtime(backend)
    circuit = build_qnn_circuit(3, 1)
    inputs = torch.randn(10, 3)
    chunked = QuantumLayer(circuit, runtime, init_seed=0)(inputs)
    whole = QuantumLayer(circuit, Runtime(get_backend("emulator")), init_seed=0)(inputs)
    torch.testing.assert_close(chunked, whole)
    submitted = [("submit", 4), ("submit", 4), ("submit", 2)]
    assert backend.events == [*submitted, ("collect", 4), ("collect", 4), ("collect", 2)]
    assert (runtime.tracker.calls, runtime.tracker.rows) == (3, 10)


def test_real_errors_are_not_retried():
    runtime = Runtime(RecordingBackend(max_batch=4, error=ValueError("bad circuit")), retry_backoff=0)
    with pytest.raises(ValueError, match="bad circuit"):
        QuantumLayer(build_qnn_circuit(2, 1), runtime)(torch.zeros(2, 2))
    assert runtime.tracker.retries == 0


def test_layers_draw_independent_shot_noise():
    """The old scheme (layer i seeded seed+i, counting up per call) made layer 1 at call t repeat layer 0 at t+1."""
    runtime = Runtime(get_backend("emulator", dtype="complex128"), shots=50, seed=0)
    circuit = build_qnn_circuit(3, 1)
    layers = [QuantumLayer(circuit, runtime, init_seed=4) for _ in range(2)]  # identical weights
    inputs = torch.full((64, 3), 0.7)
    calls = [[layer(inputs).detach() for _ in range(3)] for layer in layers]
    assert not torch.equal(calls[1][0], calls[0][1]) and not torch.equal(calls[1][0], calls[0][0])
    assert not torch.equal(calls[0][0], calls[0][1])
    again = Runtime(get_backend("emulator", dtype="complex128"), shots=50, seed=0)
    repeat = [QuantumLayer(circuit, again, init_seed=4) for _ in range(2)]
    assert torch.equal(repeat[1](inputs), calls[1][0])  # reproducible from the root seed


class AdjointBackend(QuantumBackend):
    """Offers its own gradient (gradient='vjp'); evaluate itself carries no autograd graph."""

    name = "vjp-test"

    def __init__(self) -> None:
        super().__init__()
        self.inner, self.vjp_calls = get_backend("emulator", dtype="complex128"), 0

    @property
    def capabilities(self):
        return self.inner.capabilities.model_copy(update={"gradient": "vjp"})

    def compile(self, circuit):
        return self.inner.compile(circuit)

    def evaluate(self, compiled, inputs, weights, *, shots=None, seed=None):
        with torch.no_grad():
            return self.inner.evaluate(compiled, inputs, weights)

    def vjp(self, compiled, inputs, weights, cotangent):
        self.vjp_calls += 1
        inputs, weights = inputs.detach().requires_grad_(), weights.detach().requires_grad_()
        with torch.enable_grad():
            outputs = self.inner.evaluate(compiled, inputs, weights)
            return torch.autograd.grad(outputs, (inputs, weights), cotangent)


def test_backend_vjp_is_used_when_declared():
    backend = AdjointBackend()
    circuit = build_qnn_circuit(3, 2, readout="probs")
    theirs = QuantumLayer(circuit, Runtime(backend), init_seed=2).double()
    ours = QuantumLayer(circuit, Runtime(get_backend("emulator", dtype="complex128")), init_seed=2).double()
    inputs = torch.randn(5, 3, dtype=torch.float64)
    cotangent = torch.randn(5, 8, dtype=torch.float64)
    grads = []
    for layer in (theirs, ours):
        leaf = inputs.clone().requires_grad_()
        (layer(leaf) * cotangent).sum().backward()
        grads.append((leaf.grad, layer.weights.grad))
    assert backend.vjp_calls == 1
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_coupling_map_is_checked_before_compiling(plugins):
    backend = get_backend("numpy-test", coupling_map=[(0, 1), (1, 2)])
    runtime = Runtime(backend)
    runtime.prepare(build_qnn_circuit(3, 2, entangler="chain"))
    with pytest.raises(CapabilityError, match="no coupler between wires 2 and 0"):
        runtime.prepare(build_qnn_circuit(3, 2, entangler="ring"))


def test_runtime_device_must_be_one_the_backend_computes_on(plugins):
    with pytest.raises(CapabilityError, match=r"computes on \['cpu'\], not 'cuda'"):
        Runtime(get_backend("numpy-test"), device="cuda")


def test_chunked_parameter_shift_matches_autograd(plugins):
    """Parameter-shift sends every shifted copy in one execution; the runtime splits it to max_batch."""
    circuit = build_qnn_circuit(3, 2, reupload=True)
    numpy_runtime = Runtime(get_backend("numpy-test", max_batch=16))
    theirs = QuantumLayer(circuit, numpy_runtime, init_seed=1).double()
    ours = QuantumLayer(circuit, Runtime(get_backend("emulator", dtype="complex128")), init_seed=1).double()
    inputs = torch.randn(6, 3, dtype=torch.float64)
    for layer in (theirs, ours):
        layer(inputs).sum().backward()
    torch.testing.assert_close(theirs.weights.grad, ours.weights.grad, atol=1e-9, rtol=0)
    slots = 2 * 3 + 12  # two encodings of 3 inputs, 12 weights
    rows = 6 + 2 * slots * 6
    assert numpy_runtime.tracker.rows == rows and numpy_runtime.tracker.calls == 1 + math.ceil(2 * slots * 6 / 16)


@pytest.mark.parametrize("uses", ["inputs only", "weights only"])
def test_parameter_shift_with_no_inputs_or_no_weights_used(plugins, uses):
    from qwthn.contract.circuit import Angle, Circuit, Gate

    angle = Angle.input(0) if uses == "inputs only" else Angle.weight(0)
    n_inputs = 1 if uses == "inputs only" else 0
    circuit = Circuit(1, (Gate("RX", (0,), angle),), n_inputs=n_inputs, n_weights=1 - n_inputs)
    inputs = torch.rand(3, n_inputs, dtype=torch.float64, requires_grad=True)
    values = []
    for name in ("numpy-test", "emulator"):
        layer = QuantumLayer(circuit, Runtime(get_backend(name)), init_seed=0).double()
        output = layer(inputs)
        output.sum().backward()
        grad = layer.weights.grad if layer.weights.grad is not None else torch.zeros_like(layer.weights)
        values.append((output.detach(), grad))
    torch.testing.assert_close(values[0][0], values[1][0], atol=1e-6, rtol=0)
    torch.testing.assert_close(values[0][1], values[1][1], atol=1e-6, rtol=0)


class TimedBackend(AdjointBackend):
    """Says how long its device would take: 1 ms per row plus 1 us per shot."""

    name = "timed-test"

    @property
    def capabilities(self):
        return self.inner.capabilities.model_copy(update={"gradient": "parameter-shift", "max_batch": 32})

    def estimate_seconds(self, compiled, rows, shots):
        return rows * (1e-3 + 1e-6 * (shots or 0))


def test_a_dry_run_counts_what_a_real_run_sends_without_sending_it(plugins):
    """Training steps with parameter-shift through little-endian chunked execution: same counts, nothing sent."""

    def run(dry_run: bool) -> tuple[Runtime, list[torch.Tensor]]:
        backend = get_backend("numpy-test", max_batch=32)
        calls = []
        original = backend.submit
        backend.submit = lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs)
        runtime = Runtime(backend, shots=None, seed=1, dry_run=dry_run)
        torch.manual_seed(0)
        layer = QuantumLayer(build_qnn_circuit(3, 2, readout="probs"), runtime, init_seed=0)
        inputs = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
        outputs = layer.double()(inputs)
        outputs.sum().backward()
        assert (len(calls) == 0) == dry_run
        return runtime, [outputs.detach(), inputs.grad]

    real, real_values = run(dry_run=False)
    dry, dry_values = run(dry_run=True)
    assert real.tracker.calls > 2 and real.tracker.rows > 10
    assert (dry.tracker.calls, dry.tracker.rows, dry.tracker.circuits) == (
        real.tracker.calls, real.tracker.rows, real.tracker.circuits,
    )  # fmt: skip
    for ours, theirs in zip(dry_values, real_values, strict=True):  # exact stand-in values, in the right order
        torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=0)


def test_device_time_estimates_are_summed_and_reported():
    runtime = Runtime(TimedBackend(), shots=100, seed=0, dry_run=True)
    layer = QuantumLayer(build_qnn_circuit(2, 1), runtime, init_seed=0)
    layer(torch.zeros(40, 2))
    assert runtime.tracker.rows == 40 and runtime.tracker.calls == 2
    assert runtime.tracker.estimated_device_seconds == pytest.approx(40 * (1e-3 + 1e-4))
    assert "about 0.044 s of device time" in runtime.tracker.summary()
