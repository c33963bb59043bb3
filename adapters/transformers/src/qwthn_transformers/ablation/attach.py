"""Putting an arm's adapter on a model, saving it and loading it back: qwthn's methods and peft's alike.

The unit of work and the test measures call these and nothing else, so a peft arm goes through the
same training, rate search, divergence check and evaluation as a qwthn arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from qwthn.methods.loading import parse_adapter_config
from qwthn.model.inject import inject_adapter
from qwthn.model.persistence import load_adapter, save_adapter
from qwthn.runtime import RuntimeConfig
from qwthn_transformers.ablation.arms import Arm
from qwthn_transformers.ablation.peft_arms import apply_peft, is_peft


@dataclass
class Attached:
    model: nn.Module
    """The model to train: the one given (qwthn injects in place) or peft's wrapper around it."""
    trainable_params: int
    label: str
    usage: dict
    """Backend usage (circuits run, shots) for qwthn's quantum methods; empty otherwise."""
    after_update: object | None = None
    """Called after each optimiser step (AdaLoRA's rank reallocation); None for every other method."""


def adapter_for(task, adapter: dict) -> dict:
    """The arm's adapter with the default target names mapped onto this task's model."""
    if not task.targets:
        return dict(adapter)
    targets = adapter.get("target_modules", ["q_proj", "v_proj"])
    return {**adapter, "target_modules": [task.targets.get(name, name) for name in targets]}


def runtime_for(arm: Arm, adapter: dict, seed: int) -> RuntimeConfig | None:
    """The runtime a qwthn quantum method runs its circuits with (shots per the arm), None for the rest."""
    if is_peft(adapter):
        return None
    config = parse_adapter_config(adapter)
    return RuntimeConfig(shots=arm.shots, seed=seed) if config.runs_circuits else None


def attach(task, arm: Arm, model: nn.Module, seed: int) -> Attached:
    """The arm's freshly initialised adapter on `model` (seeded: the same seed gives the same init)."""
    adapter = adapter_for(task, arm.adapter)
    if is_peft(adapter):
        wrapped = apply_peft(model, adapter, task.steps)
        trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
        tuner = wrapped.base_model
        after = (lambda step: tuner.update_and_allocate(step)) if hasattr(tuner, "update_and_allocate") else None
        return Attached(wrapped, trainable, f"peft {adapter['peft']}", {}, after)
    config = parse_adapter_config(adapter)
    if "seed" in type(config).model_fields:
        config = config.model_copy(update={"seed": seed})
    report = inject_adapter(model, config, runtime_for(arm, adapter, seed))
    return Attached(model, report.trainable_params, config.describe(), report.runtime.tracker.as_dict())


def save(model: nn.Module, arm: Arm, directory: Path) -> None:
    if is_peft(arm.adapter):
        model.save_pretrained(str(directory))
    else:
        save_adapter(model, directory)


def restore(task, arm: Arm, seed: int, directory: Path, runtime: RuntimeConfig | None = None):
    """(model, tokenizer): the base model with the arm's saved adapter (and the task's extra parts) loaded."""
    model, tokenizer = task.load(seed)
    adapter = adapter_for(task, arm.adapter)
    if is_peft(adapter):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(directory))
    else:
        load_adapter(model, directory, runtime or runtime_for(arm, adapter, seed))
    task.load_extra(model, directory)
    return model, tokenizer
