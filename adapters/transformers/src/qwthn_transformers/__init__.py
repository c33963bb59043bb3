"""Hugging Face transformers bridge: inject, save, load and merge qwthn adapters (LoRA in peft format); finetune."""

from qwthn_transformers.inject import InjectionReport, count_parameters, find_target_modules, inject_adapter
from qwthn_transformers.merge import merge_and_unload
from qwthn_transformers.persistence import from_pretrained, load_adapter, read_adapter_config, save_adapter

__all__ = [
    "InjectionReport",
    "count_parameters",
    "find_target_modules",
    "from_pretrained",
    "inject_adapter",
    "load_adapter",
    "merge_and_unload",
    "read_adapter_config",
    "save_adapter",
]
