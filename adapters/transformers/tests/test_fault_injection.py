"""Fine-tuning through a faulty backend: random failures, slow jobs and a hang change nothing in the
result; a backend that goes away for good ends training in one line with its checkpoint intact."""

from __future__ import annotations

import pytest
import torch
from flaky_backend import FlakyBackend, FlakyOptions
from tiny_models import tiny_qwen2

from qwthn import QWTHNConfig
from qwthn.errors import BackendExecutionError
from qwthn.model.checkpoint import Checkpoint
from qwthn.model.inject import inject_adapter
from qwthn.runtime import Runtime
from qwthn_transformers.train import TrainSettings, train

SETTINGS = TrainSettings(steps=6, learning_rate=5e-2)
CONFIG = QWTHNConfig(n_qubits=2, n_layers=1, seed=0)


def batches():
    generator = torch.Generator().manual_seed(0)
    while True:
        ids = torch.randint(0, 97, (4, 6), generator=generator)
        yield {"input_ids": ids, "labels": ids}


def run(checkpoint: Checkpoint | None = None, **faults) -> tuple[list[float], dict, Runtime]:
    backend = FlakyBackend(FlakyOptions(**{"failure_rate": 0.0, "slow_rate": 0.0, **faults}))
    runtime = Runtime(backend, timeout=0.2, retries=6, retry_backoff=0)
    torch.manual_seed(0)
    model = tiny_qwen2()
    inject_adapter(model, CONFIG, runtime)
    result = train(model, batches(), SETTINGS, "through faults", checkpoint)
    weights = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    return result.losses, weights, runtime


@pytest.mark.reliability(
    kind='fault', surface='training',
    tried='30% failed submissions, 30% slow jobs and one job that never finishes, while fine-tuning',
    held='timeouts and failures retried; losses and weights bit-identical to a fault-free run',
)
def test_failures_delays_and_a_hang_leave_training_identical_to_a_fault_free_run(reliability):
    clean_losses, clean_weights, clean = run()
    losses, weights, faulty = run(failure_rate=0.3, slow_rate=0.3, slow_seconds=0.01, fault_seed=5,
                                  hang_submissions=(7,))  # fmt: skip
    backend = faulty.backend
    reliability.answer(f"{backend.failures} failed submissions, {faulty.tracker.retries} retries; losses "
                       f"{[round(loss, 5) for loss in losses]}, fault-free {[round(loss, 5) for loss in clean_losses]}")
    assert losses == clean_losses
    assert all(torch.equal(weights[name], value) for name, value in clean_weights.items())
    assert backend.failures > 0 and backend.submissions > clean.backend.submissions
    assert faulty.tracker.retries >= backend.failures + 1  # every failure, and the hang's timeout, was retried
    assert faulty.tracker.calls == clean.tracker.calls  # a retried chunk still counts once


@pytest.mark.reliability(
    kind='fault', surface='training',
    tried='the backend fails every submission from step 4 on',
    held='one line naming the backend and the cause; the checkpoint of step 2 resumes exactly',
)
def test_a_backend_gone_for_good_ends_in_one_line_and_the_checkpoint_resumes(tmp_path, reliability):
    clean_losses, _, clean = run()
    calls_per_step = clean.backend.submissions // SETTINGS.steps
    checkpoint = Checkpoint(tmp_path / "ckpt.safetensors", every=2)
    with pytest.raises(BackendExecutionError) as failed:  # dies during step 4
        run(checkpoint, fail_from=3 * calls_per_step + 1)
    message = str(failed.value)
    reliability.answer(f"{type(failed.value).__name__}: {message}", tmp_path)
    assert "\n" not in message and "backend 'flaky-test'" in message and "device offline for maintenance" in message
    assert checkpoint.exists()
    resumed, _, _ = run(checkpoint)  # the backend is back: the intact checkpoint (step 2) continues exactly
    assert resumed == clean_losses
