"""QwthnTrainer: adapter-only checkpoints that resume and load as best model, gradient accumulation,
evaluation, bf16 autocast with a float32 adapter, gradient checkpointing; the Trainer example runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny_models import tiny_qwen2
from transformers import Trainer, TrainerCallback, TrainingArguments

from qwthn import LoRAConfig, QWTHNConfig
from qwthn.errors import QwthnError
from qwthn.model.inject import adapter_layers
from qwthn.model.persistence import adapter_state_dict, read_adapter_weights
from qwthn_transformers import inject_adapter, load_adapter
from qwthn_transformers.trainer import QwthnTrainer

ROOT = Path(__file__).resolve().parents[3]
CONFIG = QWTHNConfig(n_qubits=2, n_layers=1, seed=0)
BASE_FILES = {"model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "config.json"}


class Tokens(torch.utils.data.Dataset):
    def __init__(self, rows: int, seed: int) -> None:
        self.rows = torch.randint(0, 97, (rows, 12), generator=torch.Generator().manual_seed(seed))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.rows[index], "labels": self.rows[index]}


def adapted(config=CONFIG):
    model = tiny_qwen2(seed=1)
    report = inject_adapter(model, config)
    return model, report


def arguments(output: Path, **overrides) -> TrainingArguments:
    settings = dict(
        output_dir=str(output), max_steps=6, per_device_train_batch_size=2, gradient_accumulation_steps=2,
        learning_rate=2e-2, report_to=[], logging_steps=1, use_cpu=True, disable_tqdm=True, seed=0,
        eval_strategy="steps", eval_steps=2, save_strategy="steps", save_steps=2, per_device_eval_batch_size=4,
    )  # fmt: skip
    return TrainingArguments(**{**settings, **overrides})


def trainer(model, output: Path, trainer_class=QwthnTrainer, callbacks=(), **overrides) -> Trainer:
    return trainer_class(model=model, args=arguments(output, **overrides), train_dataset=Tokens(24, 0),
                         eval_dataset=Tokens(4, 1), callbacks=list(callbacks))  # fmt: skip


def weights(model) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in adapter_state_dict(model).items()}


def test_checkpoints_hold_only_the_adapter_with_accumulation_and_evaluation(tmp_path):
    model, _ = adapted()
    run = trainer(model, tmp_path)
    result = run.train()
    assert result.global_step == 6
    evaluated = [log["step"] for log in run.state.log_history if "eval_loss" in log]
    assert evaluated == [2, 4, 6]
    for step in (2, 4, 6):
        files = {path.name for path in (tmp_path / f"checkpoint-{step}").iterdir()}
        assert {"adapter_config.json", "adapter_model.safetensors", "trainer_state.json", "optimizer.pt"} <= files
        assert not files & BASE_FILES, files
        saved = load_file(tmp_path / f"checkpoint-{step}" / "adapter_model.safetensors")
        assert set(saved) == set(adapter_state_dict(model)) and all(".base_layer." not in key for key in saved)
    run.save_model(str(tmp_path / "final"))
    fresh = tiny_qwen2(seed=1)
    load_adapter(fresh, tmp_path / "final")
    tokens = torch.randint(0, 97, (2, 8))
    torch.testing.assert_close(fresh.eval()(tokens).logits, model.eval()(tokens).logits, atol=1e-6, rtol=0)

    plain = trainer(adapted()[0], tmp_path / "plain", trainer_class=Trainer, max_steps=2)
    plain.train()  # what QwthnTrainer exists for: plain Trainer saves the whole base model
    assert "model.safetensors" in {path.name for path in (tmp_path / "plain" / "checkpoint-2").iterdir()}


def test_gradient_accumulation_equals_the_larger_batch(tmp_path):
    accumulated, _ = adapted()
    trainer(accumulated, tmp_path / "a", save_strategy="no", eval_strategy="no").train()
    whole, _ = adapted()
    trainer(whole, tmp_path / "b", save_strategy="no", eval_strategy="no", per_device_train_batch_size=4,
            gradient_accumulation_steps=1).train()  # fmt: skip
    ours, theirs, start = weights(accumulated), weights(whole), weights(adapted()[0])
    assert any(not torch.equal(ours[name], start[name]) for name in ours)
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], atol=1e-6, rtol=1e-5)


def test_resume_from_an_adapter_only_checkpoint_continues_the_run(tmp_path):
    reference, _ = adapted()
    uninterrupted = trainer(reference, tmp_path / "reference")
    uninterrupted.train()
    resumed_model, _ = adapted()
    resumed = trainer(resumed_model, tmp_path / "reference")
    result = resumed.train(resume_from_checkpoint=str(tmp_path / "reference" / "checkpoint-4"))
    assert result.global_step == 6
    losses = [log["loss"] for log in resumed.state.log_history if "loss" in log]
    expected = [log["loss"] for log in uninterrupted.state.log_history if "loss" in log]
    assert losses == pytest.approx(expected, abs=1e-5)  # steps 1-4 come from the checkpoint's state
    for name, value in weights(reference).items():
        torch.testing.assert_close(weights(resumed_model)[name], value, atol=1e-6, rtol=0)

    with pytest.raises(QwthnError, match="other settings"):
        trainer(adapted(LoRAConfig(r=2))[0], tmp_path / "lora").train(
            resume_from_checkpoint=str(tmp_path / "reference" / "checkpoint-4"))


def test_load_best_model_at_end_loads_the_best_adapter(tmp_path):
    model, _ = adapted()
    # "best" is the highest eval loss, i.e. an early checkpoint, so loading it visibly changes the model
    run = trainer(model, tmp_path, load_best_model_at_end=True, metric_for_best_model="loss", greater_is_better=True)
    run.train()
    best = Path(run.state.best_model_checkpoint)
    assert best.name != "checkpoint-6"
    best_weights = read_adapter_weights(best)
    current = weights(model)
    assert all(torch.equal(current[name], best_weights[name]) for name in current)
    last = read_adapter_weights(tmp_path / "checkpoint-6")
    assert any(not torch.equal(current[name], last[name]) for name in current)


def test_bf16_autocast_keeps_the_adapter_and_its_qnn_in_float32(tmp_path):
    model, _ = adapted()
    seen: dict[str, set[torch.dtype]] = {"qnn": set(), "down": set(), "base": set(), "update": set()}
    for layer in adapter_layers(model).values():
        layer.qnn.register_forward_hook(lambda m, i, o: seen["qnn"].update({i[0].dtype, o.dtype}))
        layer.down.register_forward_hook(lambda m, i, o: seen["down"].add(o.dtype))
        layer.base_layer.register_forward_hook(lambda m, i, o: seen["base"].add(o.dtype))
        layer.up.register_forward_hook(lambda m, i, o: seen["update"].add(o.dtype))
    start = weights(model)
    run = trainer(model, tmp_path, bf16=True, save_strategy="no", eval_strategy="no", max_steps=3)
    run.train()
    assert seen["base"] == {torch.bfloat16}  # autocast is on: the frozen base computes in bf16
    assert seen["qnn"] == seen["down"] == seen["update"] == {torch.float32}
    assert all(p.dtype == torch.float32 for layer in adapter_layers(model).values()
               for p in layer.adapter_parameters().values())  # fmt: skip
    assert any(not torch.equal(value, start[name]) for name, value in weights(model).items())
    assert all(torch.isfinite(torch.tensor(log["loss"])) for log in run.state.log_history if "loss" in log)


class GradientNorms(TrainerCallback):
    def __init__(self, model) -> None:
        self.model, self.norms = model, []

    def on_pre_optimizer_step(self, args, state, control, **kwargs) -> None:
        self.norms.append({name: float(p.grad.norm()) if p.grad is not None else 0.0
                           for name, p in self.model.named_parameters() if p.requires_grad})  # fmt: skip


@pytest.mark.parametrize("reentrant", [True, False], ids=["reentrant", "non-reentrant"])
def test_gradient_checkpointing_trains_the_adapter_through_recomputed_circuits(tmp_path, reentrant):
    plain_model, plain_report = adapted()
    trainer(plain_model, tmp_path / "plain", save_strategy="no", eval_strategy="no", max_steps=3).train()
    model, report = adapted()
    norms = GradientNorms(model)
    run = trainer(model, tmp_path / "checkpointed", save_strategy="no", eval_strategy="no", max_steps=3,
                  callbacks=[norms], activation_checkpointing=True,
                  activation_checkpointing_kwargs={"use_reentrant": reentrant})  # fmt: skip
    run.train()
    assert all(layer.gradient_checkpointing for layer in model.model.layers)
    assert all(value > 0 for value in norms.norms[-1].values()), norms.norms[-1]  # every adapter tensor learns
    # the recomputation in the backward pass runs every circuit a second time: twice the backend calls
    assert report.runtime.tracker.calls == 2 * plain_report.runtime.tracker.calls
    for name, value in weights(plain_model).items():  # and changes nothing else
        torch.testing.assert_close(weights(model)[name], value, atol=1e-6, rtol=0)


def test_a_model_without_adapter_is_refused(tmp_path):
    with pytest.raises(QwthnError, match="inject_adapter"):
        QwthnTrainer(model=tiny_qwen2(), args=arguments(tmp_path))


@pytest.mark.slow
def test_the_trainer_example_runs_at_tiny_size(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "trainer_finetune.py"), "--tiny", "--output",
                           str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in (tmp_path / "run").iterdir()}
    assert not any((tmp_path / "run").glob("checkpoint-*/model.safetensors"))
