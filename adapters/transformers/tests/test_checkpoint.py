"""Checkpoints resume training exactly; Ctrl-C finishes the step and saves; NaN/Inf names step and branch."""

from __future__ import annotations

import itertools
import signal

import pytest
import torch
from tiny_models import tiny_qwen2

from qwthn import LoRAConfig, QWTHNConfig
from qwthn.errors import QwthnError
from qwthn.model.checkpoint import Checkpoint
from qwthn.model.inject import inject_adapter
from qwthn_transformers.train import TrainingDiverged, TrainingInterrupted, TrainSettings, train

SETTINGS = TrainSettings(steps=8, learning_rate=5e-2)


def batches(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    while True:
        ids = torch.randint(0, 97, (4, 6), generator=generator)
        yield {"input_ids": ids, "labels": ids}


def adapted(config=None):
    torch.manual_seed(0)
    model = tiny_qwen2()
    inject_adapter(model, config or QWTHNConfig(n_qubits=2, n_layers=1, seed=0, dropout=0.1))
    return model


def trainable(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def losses_text(losses: list[float]) -> str:
    """Losses as the page shows them: what a run really produced, shortened."""
    return "[" + ", ".join(f"{loss:.6g}" for loss in losses) + "]"


def crashing(after: int):
    """Batches that raise like a crash when batch number `after` + 1 is drawn."""
    for index, batch in enumerate(batches()):
        if index == after:
            raise RuntimeError("simulated crash")
        yield batch


@pytest.mark.reliability(
    kind='kill', surface='training',
    tried='a crash (exception) at step 6, then training again with the same checkpoint',
    held='losses and weights bit-identical to an uninterrupted run',
)
def test_a_crashed_run_resumed_from_its_checkpoint_equals_an_uninterrupted_one(tmp_path, reliability):
    reference_model = adapted()
    reference = train(reference_model, batches(), SETTINGS, "reference")

    checkpoint = Checkpoint(tmp_path / "ckpt.safetensors", every=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(adapted(), crashing(after=5), SETTINGS, "crashes at step 6", checkpoint)
    assert checkpoint.exists()

    resumed_model = adapted()  # a new process: fresh init, then the checkpoint (step 3) is restored
    torch.manual_seed(123)  # the RNG (dropout) comes from the checkpoint, not from here
    resumed = train(resumed_model, batches(), SETTINGS, "resumed", checkpoint)

    reliability.answer(f"resumed losses {losses_text(resumed.losses)}; uninterrupted {losses_text(reference.losses)}")
    assert resumed.losses == reference.losses  # bit-identical: weights, AdamW moments, schedule, RNG, data position
    for name, value in trainable(reference_model).items():
        assert torch.equal(trainable(resumed_model)[name], value), name


def test_a_resumed_run_computes_only_the_steps_after_its_checkpoint(tmp_path):
    """The previous test would also pass if training ignored the checkpoint and started over; it does not."""
    checkpoint = Checkpoint(tmp_path / "ckpt.safetensors", every=3)
    with pytest.raises(RuntimeError):
        train(adapted(), crashing(after=5), SETTINGS, "crash", checkpoint)
    model = adapted()
    forwards = []
    model.register_forward_hook(lambda *args: forwards.append(1))
    resumed = train(model, batches(), SETTINGS, "resumed", checkpoint)
    assert len(forwards) == 5 and len(resumed.losses) == 8


@pytest.fixture
def sigint_as_in_a_terminal():
    """Python's own Ctrl-C handler, whatever the shell that started pytest did: `nohup` and `cmd &` in a
    non-interactive shell start it with SIGINT ignored, which train() rightly keeps ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def sigint_ignored():
    """SIGINT as `nohup` or a background job of a non-interactive shell leaves it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_ignored_ctrl_c_stays_ignored_and_training_runs_through(sigint_ignored):
    """The environment in which the Ctrl-C test used to fail: a background job must not be stoppable by a
    SIGINT its shell chose to ignore, and training must leave the disposition as it found it."""

    def signalled_at(step: int):
        for index, batch in enumerate(batches()):
            if index == step:
                signal.raise_signal(signal.SIGINT)
            yield batch

    reference = train(adapted(), batches(), SETTINGS, "reference")
    result = train(adapted(), signalled_at(4), SETTINGS, "ignored")
    assert result.losses == reference.losses
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


@pytest.mark.reliability(
    kind='kill', surface='training',
    tried='SIGINT during step 5',
    held='step 5 finishes, checkpoint written, SIGINT handler restored; the resume is bit-identical',
)
def test_ctrl_c_finishes_the_step_saves_and_resumes(tmp_path, reliability, sigint_as_in_a_terminal):
    reference = train(adapted(), batches(), SETTINGS, "reference")

    def interrupted_at(step: int):
        for index, batch in enumerate(batches()):
            if index == step:
                signal.raise_signal(signal.SIGINT)  # arrives while step `step` + 1 runs
            yield batch

    checkpoint = Checkpoint(tmp_path / "ckpt.safetensors", every=100)
    with pytest.raises(TrainingInterrupted) as stopped:
        train(adapted(), interrupted_at(4), SETTINGS, "interrupted", checkpoint)
    reliability.answer(f"{type(stopped.value).__name__}: {stopped.value}", tmp_path)
    assert stopped.value.step == 5 and str(checkpoint.path) in str(stopped.value)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back
    resumed = train(adapted(), batches(), SETTINGS, "resumed", checkpoint)
    assert resumed.losses == reference.losses


@pytest.mark.reliability(
    kind='bad input', surface='Python API',
    tried='resuming a QWTHN checkpoint into a LoRA model',
    held='one line: written for other trainable parameters',
)
def test_a_checkpoint_of_another_adapter_is_refused(tmp_path, reliability):
    checkpoint = Checkpoint(tmp_path / "ckpt.safetensors", every=2)
    train(adapted(), batches(), TrainSettings(steps=2, learning_rate=1e-2), "qwthn", checkpoint)
    with pytest.raises(QwthnError) as refused:
        train(adapted(LoRAConfig(r=2)), batches(), SETTINGS, "lora", checkpoint)
    message = reliability.answer(f"{type(refused.value).__name__}: {refused.value}", tmp_path)
    assert "other trainable parameters" in message and "\n" not in str(refused.value)


def test_a_torn_checkpoint_is_a_one_line_error(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(b"\x00" * 40)
    with pytest.raises(QwthnError, match="not a readable checkpoint; delete it|not a readable"):
        train(adapted(), batches(), SETTINGS, "torn", Checkpoint(path, every=2))


def _poison(model, attribute: str) -> None:
    layer = model.model.layers[0].self_attn.q_proj
    with torch.no_grad():
        next(getattr(layer, attribute).parameters()).fill_(float("nan")) if attribute != "mix_quantum" else \
            layer.mix_quantum.fill_(float("nan"))  # fmt: skip


@pytest.mark.reliability(
    kind='divergence', surface='training',
    tried='a NaN planted in the MPO, the QNN or the fusion weights',
    held='training stops at step 1 naming that branch and layer',
)
@pytest.mark.parametrize(("attribute", "branch"), [("down", "MPO"), ("qnn", "QNN"), ("mix_quantum", "fusion")])
def test_a_nan_names_the_step_and_the_branch(attribute, branch, reliability):
    model = adapted(QWTHNConfig(n_qubits=2, n_layers=1, seed=0, fusion="linear"))
    _poison(model, attribute)
    expected = f"step 1, first in the {branch} (branch )?of model.layers.0.self_attn.q_proj"
    with pytest.raises(TrainingDiverged, match=expected) as diverged:
        train(model, batches(), SETTINGS, "poisoned")
    reliability.answer(f"{type(diverged.value).__name__}: {diverged.value}")


@pytest.mark.reliability(
    kind='divergence', surface='training',
    tried='a NaN gradient from step 6 in one QNN',
    held='stops at step 6 naming the QNN branch; checkpoint of step 4 kept, finite, resumable',
)
def test_a_nan_gradient_names_its_branch_and_keeps_the_last_good_checkpoint(tmp_path, reliability):
    model = adapted()
    counter = itertools.count()

    def poisoned_gradient(grad: torch.Tensor) -> torch.Tensor:
        return grad * float("nan") if next(counter) >= 5 else grad  # the 6th backward pass goes bad

    qnn_weight = next(model.model.layers[0].self_attn.v_proj.qnn.parameters())
    qnn_weight.register_hook(poisoned_gradient)
    checkpoint = Checkpoint(tmp_path / "ckpt.safetensors", every=2)
    with pytest.raises(TrainingDiverged) as diverged:
        train(model, batches(), SETTINGS, "bad gradient", checkpoint)
    message = str(diverged.value)
    reliability.answer(f"{type(diverged.value).__name__}: {message}", tmp_path)
    assert "the gradient became non-finite at step 6" in message and "\n" not in message
    assert "QNN branch of model.layers.0.self_attn.v_proj" in message
    assert f"last good checkpoint (step 4) is kept in {checkpoint.path}" in message
    restored = adapted()
    state = train(restored, batches(), TrainSettings(steps=8, learning_rate=0.0), "restore", checkpoint)
    assert len(state.losses) == 8 and all(torch.isfinite(p).all() for p in trainable(restored).values())
