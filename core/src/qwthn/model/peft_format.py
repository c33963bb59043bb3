"""peft's LoRA file format: qwthn writes its LoRA adapters as peft LoRA adapters and reads peft's.

qwthn's LoRA layer is peft's plain LoRA, y = W x + (alpha / r) B A x, with A (r, in) and B (out, r) the
weights of two bias-free nn.Linear layers; the formats differ only in names. A file is peft's when its
config has `peft_type`. peft options that change that formula or the base model (DoRA, per-layer ranks,
trained biases, ...) have no qwthn equivalent and are refused, never dropped.

qwthn's own `method` and `qwthn_version` are left out of a LoRA config: peft 0.21 loads a config with
unknown keys but warns that it was "saved using a higher version" of peft. `peft_type` says it is LoRA;
the qwthn version goes into the safetensors header (`__metadata__`), which peft ignores.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Iterable
from typing import Any

import torch

from qwthn.errors import QwthnError
from qwthn.methods.base import AdapterConfig
from qwthn.methods.loading import parse_adapter_config
from qwthn.methods.lora import LoRAConfig

PEFT_TYPE = "LORA"
KEY_PREFIX = "base_model.model."
"""peft's file keys: `base_model.model.<module path>.lora_A.weight` (no adapter name in the file)."""
LORA_SUFFIXES = (".lora_A.weight", ".lora_B.weight")

UNSUPPORTED = {
    "use_dora": "DoRA",
    "bias": "trained base biases",
    "lora_bias": "a bias on lora_B",
    "fan_in_fan_out": "transposed (Conv1D) weights",
    "modules_to_save": "fully trained extra modules",
    "trainable_token_indices": "trained token embeddings",
    "layer_replication": "replicated layers",
    "target_parameters": "LoRA on bare parameters",
    "megatron_config": "Megatron parallel layers",
    "use_qalora": "QALoRA",
    "alora_invocation_tokens": "activated LoRA",
    "arrow_config": "Arrow routing",
    "use_bdlora": "block-diagonal LoRA",
    "velora_config": "VeLoRA",
    "monteclora_config": "MonteCLoRA",
    "kasa_config": "KaSA",
}
"""peft LoRA options (peft 0.21.2) that change the update or the model; refused unless at their off value."""
PLAIN_INITS: tuple[Any, ...] = (True, False, "gaussian", "eva", "orthogonal")
"""`init_lora_weights` values that only set A and B; the others (pissa, olora, corda, loftq, lora_ga, mica)
change the base weights or the layer, so the saved A and B alone do not reproduce the model."""
NARROWING = ("exclude_modules", "layers_to_transform", "layers_pattern")
"""Options that narrow `target_modules`; with any of them the adapted modules are read from the tensor names."""


def is_peft(data: dict[str, Any]) -> bool:
    return "peft_type" in data


def _is_off(value: Any) -> bool:
    """peft's "not used" values; 0 is not one (`layers_to_transform: 0` means layer 0)."""
    return value is None or value is False or value in ("none", {}, [])


def peft_config(config: LoRAConfig, base: str | None) -> dict[str, Any]:
    """The adapter_config.json of a qwthn LoRA adapter; the off values are written so the file says plain LoRA."""
    return {
        "peft_type": PEFT_TYPE,
        "task_type": None,
        "r": config.r,
        "lora_alpha": int(config.alpha) if config.alpha.is_integer() else config.alpha,
        "lora_dropout": config.dropout,
        "target_modules": config.target_modules,
        "rank_pattern": config.rank_pattern,
        "alpha_pattern": config.alpha_pattern,
        "base_model_name_or_path": base,
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
        "fan_in_fan_out": False,
        "modules_to_save": None,
        "init_lora_weights": True,
        "inference_mode": True,
    }


def to_peft_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {KEY_PREFIX + key: tensor for key, tensor in state.items()}


def from_peft_keys(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """qwthn's keys (module path + `.lora_A.weight`); a tensor that is not a linear layer's A or B is refused."""
    for key in state:
        if not key.endswith(LORA_SUFFIXES):
            raise QwthnError(
                f"{source}: tensor '{key}' is not the lora_A/lora_B weight of a linear layer; qwthn's LoRA adapts "
                "nn.Linear layers only, so load this adapter with peft.PeftModel.from_pretrained"
            )
    return {key.removeprefix(KEY_PREFIX): tensor for key, tensor in state.items()}


def config_from_peft(data: dict[str, Any], source: str, tensor_keys: Callable[[], Iterable[str]]) -> AdapterConfig:
    """The LoRAConfig of a peft LoRA config; `tensor_keys` (the file's tensor names) is read only if needed."""
    peft_type = data.get("peft_type")
    if peft_type != PEFT_TYPE:
        raise QwthnError(
            f"{source}: a peft {peft_type} adapter; qwthn reads peft LoRA adapters only, so load this one "
            "with peft.PeftModel.from_pretrained"
        )
    for key, feature in UNSUPPORTED.items():
        if not _is_off(data.get(key)):
            raise QwthnError(
                f"{source}: '{key}': {reprlib.repr(data[key])} ({feature}) has no equivalent in qwthn's LoRA; "
                f"load this adapter with peft.PeftModel.from_pretrained, or train it without {key}"
            )
    init = data.get("init_lora_weights", True)
    if init not in PLAIN_INITS:
        raise QwthnError(
            f"{source}: 'init_lora_weights': {reprlib.repr(init)} changes the base model's weights or the LoRA layer, "
            "which A and B alone do not reproduce; convert it to plain LoRA in peft (save_pretrained with "
            "path_initial_model_for_weight_conversion)"
        )
    targets = data.get("target_modules")
    if targets is None or not all(_is_off(data.get(key)) for key in NARROWING):
        targets = sorted({key.removeprefix(KEY_PREFIX).rsplit(".", 2)[0] for key in tensor_keys()})
    patterns = {key: data.get(key) or {} for key in ("rank_pattern", "alpha_pattern")}
    if data.get("use_rslora") and any(patterns.values()):
        raise QwthnError(f"{source}: 'use_rslora' with per-module ranks or alphas has no equivalent in qwthn's LoRA; "
                         "load this adapter with peft.PeftModel.from_pretrained")  # fmt: skip
    config = parse_adapter_config(
        {"method": "lora", "r": data.get("r", 8), "alpha": data.get("lora_alpha", 8),
         "dropout": data.get("lora_dropout", 0.0), "target_modules": targets, **patterns},
        source=source,
    )  # fmt: skip
    if data.get("use_rslora"):  # peft scales by alpha / sqrt(r), qwthn by alpha / r: the same update
        config = config.model_copy(update={"alpha": config.alpha * math.sqrt(config.r)})
    return config
