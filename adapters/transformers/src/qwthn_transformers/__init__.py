"""Hugging Face transformers bridge: inject, save and load qwthn adapters; the finetune pipeline."""

from qwthn_transformers.inject import InjectionReport, count_parameters, find_target_modules, inject_adapter
from qwthn_transformers.persistence import load_adapter, read_adapter_config, save_adapter

__all__ = [
    "InjectionReport",
    "count_parameters",
    "find_target_modules",
    "inject_adapter",
    "load_adapter",
    "read_adapter_config",
    "save_adapter",
]
