"""Adapters on any torch model: inject, save and load (LoRA in peft's format), merge, checkpoint.

Torch-generic: a plain `nn.Module` whose `nn.Linear` layers match the config's `target_modules` is
enough, with no Hugging Face package installed. `qwthn_transformers` re-exports these names and adds
what needs transformers (the Trainer, loading base models, fine-tuning and the ablation).
"""

from qwthn.model.inject import InjectionReport, count_parameters, find_target_modules, inject_adapter
from qwthn.model.merge import merge_and_unload
from qwthn.model.persistence import from_pretrained, load_adapter, read_adapter_config, save_adapter

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
