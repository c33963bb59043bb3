"""The device path with fake devices (GenericBackendV2 subclasses standing in for a provider's backend).

Not run against IBM's service: these stubs only check what qwthn relies on: `submit` returns at
once with a job, every chunk is submitted before any is collected, `result(timeout)` times out as a
retryable error, transport failures are retried with the chunk's own seed, and other errors are not.
"""

from __future__ import annotations

import threading

import pytest
import torch
from qiskit.providers.fake_provider import GenericBackendV2

from qwthn import BackendExecutionError, TransientBackendError, get_backend
from qwthn.errors import BackendTimeoutError
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime
from qwthn.runtime.executor import little_to_big_endian
from qwthn.testing import reference
from qwthn_qiskit.jobs import PrimitiveJobHandle

# GenericBackendV2 without noise data warns when it builds its (ideal) simulator
pytestmark = pytest.mark.filterwarnings("ignore:Qiskit backend .* has no QubitProperties:UserWarning")


class StubDevice(GenericBackendV2):
    """A noiseless 4-qubit device whose `run` calls `hook()` first (in the primitive's worker thread)."""

    def __init__(self, hook=None):
        super().__init__(num_qubits=4, seed=1, noise_info=False)
        self.hook, self.runs = hook, 0

    def run(self, run_input, **options):
        self.runs += 1
        if self.hook is not None:
            self.hook(self.runs)
        return super().run(run_input, **options)


CIRCUIT = build_qnn_circuit(3, 2, readout="probs")
INPUTS = torch.rand(6, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 3
WEIGHTS = torch.rand(CIRCUIT.n_weights, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def layer_on(device, **runtime) -> QuantumLayer:
    backend = get_backend("qiskit", backend=device, max_batch=runtime.pop("max_batch", None))
    layer = QuantumLayer(CIRCUIT, Runtime(backend, shots=2000, seed=8, retry_backoff=0, **runtime)).double()
    with torch.no_grad():
        layer.weights.copy_(WEIGHTS)
    return layer


def within_shot_noise(out: torch.Tensor) -> bool:
    exact = torch.from_numpy(reference.evaluate(CIRCUIT, INPUTS.numpy(), WEIGHTS.numpy()))
    return bool(torch.all((out - exact).abs() <= 5 * torch.sqrt(exact * (1 - exact) / 2000) + 1e-3))


def test_stub_device_is_remote_sampling_only():
    caps = get_backend("qiskit", backend=StubDevice()).capabilities
    assert caps.remote and not caps.exact and caps.supports_shots and caps.routes


def test_submit_returns_a_job_and_result_waits_with_a_timeout():
    gate = threading.Event()
    device = StubDevice(hook=lambda _: gate.wait(10))
    backend = get_backend("qiskit", backend=device)
    compiled = backend.compile(CIRCUIT)
    try:
        job = backend.submit(compiled, INPUTS, WEIGHTS, shots=500, seed=1)
        assert isinstance(job, PrimitiveJobHandle) and not job.job.done()  # queued, not run yet
        with pytest.raises(BackendTimeoutError, match="no result within"):
            job.result(timeout=0.05)
        assert isinstance(BackendTimeoutError("x"), (TimeoutError, TransientBackendError))  # the runtime retries it
        gate.set()
        out = backend.submit(compiled, INPUTS, WEIGHTS, shots=2000, seed=1).result(timeout=30)
    finally:
        gate.set()
    assert out.shape == (6, 8) and within_shot_noise(out[:, little_to_big_endian(3)])  # backend order: little


def test_every_chunk_is_submitted_before_any_is_collected():
    """Three chunks meet at a barrier inside `run`: only chunks that were all submitted can get through."""
    barrier = threading.Barrier(3, timeout=10)
    device = StubDevice(hook=lambda _: barrier.wait())
    layer = layer_on(device, max_batch=2)
    out = layer(INPUTS).detach()
    assert device.runs == 3 and layer.runtime.tracker.calls == 3 and within_shot_noise(out)


def test_transport_failures_are_retried_with_the_chunks_seed():
    def drop_first(run):
        if run == 1:
            raise ConnectionError("connection reset by peer")

    flaky, steady = layer_on(StubDevice(hook=drop_first)), layer_on(StubDevice())
    out, expected = flaky(INPUTS).detach(), steady(INPUTS).detach()
    assert flaky.runtime.tracker.retries == 1
    assert torch.equal(out, expected)  # the retry reused the chunk's seed: same samples as a fault-free run


def test_persistent_transport_failure_stops_after_the_retries():
    def always(_):
        raise ConnectionError("no route to host")

    layer = layer_on(StubDevice(hook=always), retries=2)
    with pytest.raises(BackendExecutionError, match="failed 3 times"):
        layer(INPUTS)


def test_other_errors_are_not_retried():
    def broken(_):
        raise ValueError("circuit rejected by the device")

    layer = layer_on(StubDevice(hook=broken))
    with pytest.raises(ValueError, match="rejected"):
        layer(INPUTS)
    assert layer.runtime.tracker.retries == 0
