"""The AwsDevice path against a fake device (never against the Braket service: no credentials here).

The fake has AwsDevice's call shapes and task life cycle (QUEUED -> RUNNING -> COMPLETED,
FAILED, CANCELLED) and computes results with the local simulator, so what is checked is how
the backend drives the SDK: program sets and their limits, run_batch, queuing, retries,
timeouts and capability discovery.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botocore.exceptions import ClientError
from qwthn_braket_fakes import QPU_ARN, SIMULATOR_ARN, FakeAwsDevice

from qwthn import BackendExecutionError, Runtime, get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.errors import BackendTimeoutError
from qwthn.runtime import QuantumLayer
from qwthn.testing import reference
from qwthn.testing.harness import shot_bound
from qwthn_braket.backend import BraketBackend
from qwthn_braket.options import BraketOptions

CIRCUIT = Circuit(
    2,
    (Gate("RY", (0,), Angle.input(0)), Gate("RX", (1,), Angle.weight(0)), Gate("CNOT", (0, 1))),
    n_inputs=1,
    n_weights=1,
    readout=Readout("probs"),
)
INPUTS = torch.linspace(-2.5, 2.5, 10, dtype=torch.float64)[:, None]
WEIGHTS = torch.tensor([0.6], dtype=torch.float64)


def remote(fake: FakeAwsDevice, arn: str = QPU_ARN, **options) -> BraketBackend:
    return BraketBackend(BraketOptions(device=arn, poll_interval=0.001, **options), device=fake)


def expected(inputs=INPUTS, weights=WEIGHTS) -> np.ndarray:
    return reference.evaluate(CIRCUIT, inputs.numpy(), weights.numpy())


def test_an_arn_opens_an_aws_device(monkeypatch) -> None:
    opened = []

    def aws_device(arn: str) -> FakeAwsDevice:
        opened.append(arn)
        return FakeAwsDevice()

    monkeypatch.setattr("braket.aws.AwsDevice", aws_device)
    backend = get_backend("braket", device=QPU_ARN)
    assert backend.capabilities.remote and opened == [QPU_ARN]


def test_capabilities_follow_the_device_properties() -> None:
    caps = remote(FakeAwsDevice(qubits=5, operations=("rx", "ry", "cnot"), shots_range=(10, 1000))).capabilities
    assert caps.max_qubits == 5
    assert caps.native_gates == {"RX", "RY", "CNOT", "CRY"}  # no rz/h/x/cz: no RZ, CRZ, CRX, CZ, H, X
    assert caps.max_batch == 4  # the program set's maximumExecutables
    assert caps.max_shots == 1000  # shotsRange, below the set's maximumTotalShots (2000)
    assert not caps.exact and caps.supports_shots and caps.remote and caps.supports_noise  # a QPU
    assert remote(FakeAwsDevice(), max_batch=2).capabilities.max_batch == 2
    assert remote(FakeAwsDevice(program_sets=False)).capabilities.max_batch is None
    simulator = remote(FakeAwsDevice(shots_range=(0, 100_000)), SIMULATOR_ARN).capabilities
    assert simulator.exact and not simulator.supports_noise


def test_shots_go_as_program_sets_submitted_before_any_is_collected() -> None:
    fake = FakeAwsDevice()
    runtime = Runtime(remote(fake, s3_bucket="my-bucket", s3_prefix="runs"), shots=100, seed=1)
    layer = QuantumLayer(CIRCUIT, runtime)
    with torch.no_grad():
        layer.weights.copy_(WEIGHTS)
    values = layer(INPUTS).detach().numpy()
    assert runtime.tracker.calls == 3  # 10 rows in chunks of max_batch = 4
    assert fake.events[:3] == ["submit"] * 3 and "submit" not in fake.events[3:]  # queued together
    assert [kind for kind, _ in fake.calls] == ["run"] * 3
    assert [call["shots"] for _, call in fake.calls] == [400, 400, 200]  # a set's shots are its total
    assert all(call["s3_destination_folder"] == ("my-bucket", "runs") for _, call in fake.calls)
    assert np.all(np.abs(values - expected()) <= shot_bound(expected(), "probs", 100))


def test_a_program_set_over_the_devices_total_shots_is_split_into_tasks() -> None:
    fake = FakeAwsDevice(max_total_shots=300)
    backend = remote(fake)
    job = backend.submit(backend.compile(CIRCUIT), INPUTS[:4], WEIGHTS, shots=100)
    assert len(job.tasks) == 2 and [call["shots"] for _, call in fake.calls] == [300, 100]
    values = job.result().numpy()
    assert np.all(np.abs(values - expected(INPUTS[:4])) <= shot_bound(expected(INPUTS[:4]), "probs", 100))


def test_a_device_without_program_sets_gets_run_batch_with_shots() -> None:
    fake = FakeAwsDevice(program_sets=False)
    backend = remote(fake)
    values = backend.evaluate(backend.compile(CIRCUIT), INPUTS[:3], WEIGHTS, shots=100).numpy()
    ((kind, call),) = fake.calls
    assert kind == "run_batch" and call["shots"] == 100 and len(call["inputs"]) == 3
    assert np.all(np.abs(values - expected(INPUTS[:3])) <= shot_bound(expected(INPUTS[:3]), "probs", 100))


def test_exact_mode_on_a_remote_simulator_uses_run_batch_with_zero_shots() -> None:
    fake = FakeAwsDevice(shots_range=(0, 100_000))
    backend = remote(fake, SIMULATOR_ARN)
    per_row = torch.linspace(0, 1, 3, dtype=torch.float64)[:, None]
    values = backend.evaluate(backend.compile(CIRCUIT), INPUTS[:3], per_row)
    ((kind, call),) = fake.calls
    assert kind == "run_batch" and call["shots"] == 0
    assert [row["qw_0"] for row in call["inputs"]] == pytest.approx([0.0, 0.5, 1.0])
    np.testing.assert_allclose(values.numpy(), expected(INPUTS[:3], per_row), atol=1e-12)


def test_a_failed_task_is_resubmitted_and_its_siblings_cancelled() -> None:
    # 4 rows x 100 shots over a 200-shot limit: two program-set tasks per chunk; the first one fails
    fake = FakeAwsDevice(max_total_shots=200, outcomes=[("QUEUED", "FAILED"), ("QUEUED", "RUNNING", "COMPLETED")])
    runtime = Runtime(remote(fake), shots=100, seed=2, retries=2, retry_backoff=0.0)
    prepared = runtime.prepare(CIRCUIT)
    values = runtime.execute(prepared, INPUTS[:4], WEIGHTS, runtime.seed_stream()).numpy()
    assert runtime.tracker.retries == 1 and len(fake.tasks) == 4
    assert fake.tasks[1].cancelled and not any(task.cancelled for task in fake.tasks[2:])
    assert np.all(np.abs(values - expected(INPUTS[:4])) <= shot_bound(expected(INPUTS[:4]), "probs", 100))


def test_failures_that_persist_stop_with_one_line() -> None:
    fake = FakeAwsDevice(outcomes=[("FAILED",)])
    runtime = Runtime(remote(fake), shots=10, retries=1, retry_backoff=0.0)
    with pytest.raises(BackendExecutionError, match="fake device error"):
        runtime.execute(runtime.prepare(CIRCUIT), INPUTS[:2], WEIGHTS, runtime.seed_stream())


def test_a_timeout_cancels_the_unfinished_tasks() -> None:
    fake = FakeAwsDevice(outcomes=[("QUEUED",)])
    backend = remote(fake, max_batch=2)
    job = backend.submit(backend.compile(CIRCUIT), INPUTS[:2], WEIGHTS, shots=10)
    with pytest.raises(BackendTimeoutError, match="unfinished after 0.02 s"):
        job.result(timeout=0.02)
    assert fake.tasks and all(task.cancelled for task in fake.tasks)


def test_throttled_submissions_are_retried_and_refusals_are_not() -> None:
    fake = FakeAwsDevice(refusals=["ThrottlingException"])
    runtime = Runtime(remote(fake), shots=10, seed=3, retry_backoff=0.0)
    runtime.execute(runtime.prepare(CIRCUIT), INPUTS[:2], WEIGHTS, runtime.seed_stream())
    assert runtime.tracker.retries == 1 and len(fake.calls) == 2
    # a chunk of two program sets whose second submission is throttled: the first is cancelled, then both resubmitted
    split = FakeAwsDevice(max_total_shots=20, refusals=[None, "ThrottlingException"])
    runtime = Runtime(remote(split), shots=10, seed=3, retry_backoff=0.0)
    runtime.execute(runtime.prepare(CIRCUIT), INPUTS[:4], WEIGHTS, runtime.seed_stream())
    assert len(split.calls) == 4 and len(split.tasks) == 3 and split.tasks[0].cancelled
    refused = Runtime(remote(FakeAwsDevice(refusals=["ValidationException"])), shots=10, retry_backoff=0.0)
    with pytest.raises(ClientError, match="ValidationException"):
        refused.execute(refused.prepare(CIRCUIT), INPUTS[:2], WEIGHTS, refused.seed_stream())
