"""QWTHN models under transformers' `Trainer`: adapter-only checkpoints, float32 updates under autocast.

A model with an injected qwthn adapter is still the `PreTrainedModel` it was, so plain `Trainer`
trains it unchanged but saves it with `save_pretrained`: every checkpoint holds the whole base
model, and nothing reads an adapter back. `QwthnTrainer` changes only that and the precision:

- `_save` (checkpoints and `save_model`) writes the adapter files `save_adapter` writes, plus the
  tokenizer; the optimiser, scheduler, RNG and trainer state stay Trainer's own files.
- `_load_from_checkpoint` and `_load_best_model` load those files back into the model's adapter, so
  `resume_from_checkpoint` and `load_best_model_at_end` work.
- Nothing for precision: `AdapterLayer` runs its update with autocast off, so under `bf16=True`/`fp16=True`
  the frozen base layers compute in half precision while the MPOs, the QNN and LoRA stay float32.

Gradient accumulation, evaluation, DDP and gradient checkpointing are Trainer's (docs/trainer.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from transformers import PreTrainedModel, Trainer

from qwthn.errors import QwthnError
from qwthn.model.inject import CONFIG_ATTRIBUTE
from qwthn.model.persistence import (
    BASE_IDENTITY_ATTRIBUTE,
    CONFIG_NAME,
    WEIGHTS_NAME,
    adapter_state_dict,
    copy_adapter_weights,
    read_adapter_config,
    read_adapter_weights,
    write_adapter,
)


def enable_gradient_checkpointing(model: PreTrainedModel, use_reentrant: bool = False) -> None:
    """Activation checkpointing for a hand-written loop, with gradients flowing into the frozen embeddings' output.

    The embeddings are frozen, so their output does not require grad; re-entrant checkpointing would then give
    the adapters inside a checkpointed block no gradient. Trainer (transformers 5) does both steps itself.
    """
    kwargs = {"use_reentrant": use_reentrant}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers 5; the old name warns there
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if not getattr(model, "_require_grads_hooks", None) and not getattr(model, "_require_grads_hook", None):
        model.enable_input_require_grads()


def holds_adapter(directory: str | os.PathLike[str]) -> bool:
    """Whether a checkpoint directory holds adapter files (as `QwthnTrainer` writes them)."""
    return (Path(directory) / CONFIG_NAME).is_file() and (Path(directory) / WEIGHTS_NAME).is_file()


def restore_adapter(model: nn.Module, directory: str | os.PathLike[str]) -> None:
    """Copy a checkpoint's adapter weights into the adapter `model` already carries; another config is refused."""
    config = getattr(model, CONFIG_ATTRIBUTE, None)
    if config is None:
        raise QwthnError("this model has no qwthn adapter to restore into; inject the adapter before training")
    saved = read_adapter_config(directory)
    if saved != config:
        raise QwthnError(
            f"checkpoint {directory} holds a {saved.describe()} adapter with other settings than this model's "
            f"{config.describe()}; resume with the adapter config it was trained with"
        )
    copy_adapter_weights(model, read_adapter_weights(directory), directory)


class QwthnTrainer(Trainer):
    """`Trainer` whose checkpoints and saved model are the adapter alone; see the module docstring."""

    def __init__(self, model: nn.Module | None = None, *args: object, **kwargs: object) -> None:
        if model is None or getattr(model, CONFIG_ATTRIBUTE, None) is None:
            raise QwthnError("QwthnTrainer trains a model carrying a qwthn adapter; call inject_adapter (or "
                             "from_pretrained(..., is_trainable=True)) on it first")  # fmt: skip
        super().__init__(model, *args, **kwargs)

    def _save(self, output_dir: str | None = None, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """The adapter files and the tokenizer instead of `save_pretrained`'s whole model."""
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        model = self.accelerator.unwrap_model(self.model)
        state = adapter_state_dict(model)
        if state_dict and state.keys() <= state_dict.keys():  # gathered by DeepSpeed/FSDP: the values to keep
            state = {name: state_dict[name].detach().to("cpu").contiguous() for name in state}
        base = getattr(getattr(model, "config", None), "_name_or_path", None)
        identity = getattr(model, BASE_IDENTITY_ATTRIBUTE, None)
        write_adapter(output_dir, getattr(model, CONFIG_ATTRIBUTE), state, base, identity)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: nn.Module | None = None) -> None:
        if not holds_adapter(resume_from_checkpoint):
            super()._load_from_checkpoint(resume_from_checkpoint, model)
            return
        restore_adapter(self.accelerator.unwrap_model(model if model is not None else self.model),
                        resume_from_checkpoint)  # fmt: skip

    def _load_best_model(self) -> None:
        best = self.state.best_model_checkpoint
        if self.is_deepspeed_enabled or best is None or not holds_adapter(best):
            super()._load_best_model()
            return
        restore_adapter(self.accelerator.unwrap_model(self.model), best)
