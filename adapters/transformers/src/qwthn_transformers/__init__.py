"""Hugging Face transformers bridge: the Trainer, base models, finetune and the ablation.

Injecting, saving, loading and merging are torch-generic and live in core (`qwthn.model`); they are
re-exported here so `from qwthn_transformers import inject_adapter` keeps working.
"""

from typing import TYPE_CHECKING, Any

from qwthn.model import (
    InjectionReport,
    count_parameters,
    find_target_modules,
    from_pretrained,
    inject_adapter,
    load_adapter,
    merge_and_unload,
    read_adapter_config,
    save_adapter,
)

if TYPE_CHECKING:
    from qwthn_transformers.trainer import QwthnTrainer, enable_gradient_checkpointing

_TRAINER_NAMES = ("QwthnTrainer", "enable_gradient_checkpointing")
"""Imported on first use: transformers' Trainer takes seconds to import, which every CLI call would pay."""

__all__ = [
    "InjectionReport",
    "QwthnTrainer",
    "count_parameters",
    "enable_gradient_checkpointing",
    "find_target_modules",
    "from_pretrained",
    "inject_adapter",
    "load_adapter",
    "merge_and_unload",
    "read_adapter_config",
    "save_adapter",
]


def __getattr__(name: str) -> Any:
    if name in _TRAINER_NAMES:
        from qwthn_transformers import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'qwthn_transformers' has no attribute '{name}'")
