"""peft interop: qwthn's LoRA files are peft LoRA adapters and back, checked on logits (peft only warns on bad keys)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils import register_peft_method
from safetensors.torch import load_file, save_file
from tiny_models import tiny_qwen2
from torch import nn

from qwthn import LoRAConfig, QWTHNConfig, RuntimeConfig
from qwthn.errors import QwthnError
from qwthn.methods.base import AdapterConfig
from qwthn.methods.lora import LoRALinear
from qwthn.model.inject import adapter_layers
from qwthn.model.persistence import adapter_state_dict
from qwthn_transformers import from_pretrained, inject_adapter, load_adapter, save_adapter

TOKENS = torch.randint(0, 97, (3, 10), generator=torch.Generator().manual_seed(0))


def logits(model: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(TOKENS).logits


def randomise_adapter(model: nn.Module, seed: int = 0) -> None:
    """Every adapter tensor random, LoRA's B included: a zero B would hide a file that loads nothing."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name or (param.requires_grad and ".base_layer." not in name):
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)


def adapted(config: AdapterConfig, build: Callable[..., nn.Module] = tiny_qwen2) -> nn.Module:
    """A tiny base model (seed 1) carrying `config` with random weights."""
    model = build(seed=1)
    model.config._name_or_path = "tiny-qwen2-test"
    inject_adapter(model, config)
    randomise_adapter(model)
    return model.eval()


def assert_same_logits(actual: torch.Tensor, expected: torch.Tensor) -> None:
    base = logits(tiny_qwen2(seed=1))
    assert (expected - base).abs().max() > 1e-2  # the adapter changes the output, so a no-op load would fail
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def _no_peft_warnings(caught: list[warnings.WarningMessage]) -> None:
    texts = [str(w.message) for w in caught]
    assert not [t for t in texts if "missing adapter keys" in t or "Unexpected keyword" in t or "unexpected" in t]


@pytest.mark.parametrize("config", [
    LoRAConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"]),
    LoRAConfig(r=3, alpha=5.5, dropout=0.1, target_modules="all-linear"),
    LoRAConfig(r=2, alpha=3, target_modules=r"model\.layers\.1\..*_proj"),
    LoRAConfig(r=2, alpha=4, target_modules=["q_proj", "v_proj"], rank_pattern={r"layers\.0\.self_attn\.q_proj": 5},
               alpha_pattern={"v_proj": 7}),
], ids=["list", "all-linear", "regex", "per-module-ranks"])
def test_a_qwthn_lora_adapter_is_a_peft_adapter_with_identical_logits(tmp_path, config):
    model = adapted(config)
    expected = logits(model)
    save_adapter(model, tmp_path / "qwthn")
    meta = json.loads((tmp_path / "qwthn" / "adapter_config.json").read_text())
    assert meta["peft_type"] == "LORA" and meta["r"] == config.r and meta["lora_alpha"] == config.alpha
    assert meta["base_model_name_or_path"] == "tiny-qwen2-test" and "method" not in meta
    keys = load_file(tmp_path / "qwthn" / "adapter_model.safetensors").keys()
    assert all(k.startswith("base_model.model.model.layers.") and k.endswith(("lora_A.weight", "lora_B.weight"))
               for k in keys)  # fmt: skip

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        peft_model = PeftModel.from_pretrained(tiny_qwen2(seed=1), tmp_path / "qwthn")
    _no_peft_warnings(caught)
    assert_same_logits(logits(peft_model), expected)

    peft_model.save_pretrained(tmp_path / "peft", save_embedding_layers=False)  # and back, from peft's own file
    fresh = tiny_qwen2(seed=1)
    loaded = load_adapter(fresh, tmp_path / "peft")  # peft writes 'all-linear' out as the module names it matched
    assert loaded.model_copy(update={"target_modules": config.target_modules}) == config
    assert adapter_layers(fresh).keys() == adapter_layers(model).keys()
    assert_same_logits(logits(fresh), expected)


@pytest.mark.parametrize("options", [
    dict(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"]),
    dict(r=8, lora_alpha=8, use_rslora=True, lora_dropout=0.1, task_type="CAUSAL_LM",
         target_modules=["q_proj", "k_proj", "down_proj"]),
    dict(r=2, lora_alpha=4, target_modules="all-linear", exclude_modules=["o_proj"]),
    dict(r=2, lora_alpha=4, target_modules=["up_proj", "gate_proj"], layers_to_transform=[1]),
    dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], rank_pattern={"layers.1.self_attn.v_proj": 6},
         alpha_pattern={"q_proj": 9}),
], ids=["plain", "rslora-causal-lm", "exclude-modules", "layers-to-transform", "per-module-ranks"])
def test_a_peft_lora_adapter_loads_into_qwthn_with_identical_logits(tmp_path, options):
    peft_model = get_peft_model(tiny_qwen2(seed=1), LoraConfig(**options))
    randomise_adapter(peft_model)
    expected = logits(peft_model)
    peft_model.save_pretrained(tmp_path / "peft", save_embedding_layers=False)  # no hub lookup for the base

    fresh = tiny_qwen2(seed=1)
    config = load_adapter(fresh, tmp_path / "peft")
    wrapped = [name for name, module in peft_model.named_modules() if hasattr(module, "lora_A")]
    assert len(adapter_layers(fresh)) == len(wrapped) and config.r == options["r"]
    assert_same_logits(logits(fresh), expected)


def test_an_old_format_qwthn_lora_adapter_still_loads(tmp_path):
    config = LoRAConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    model = adapted(config)
    old = tmp_path / "old"
    old.mkdir()  # the format before peft interop: qwthn's fields, keys without peft's prefix
    meta = {**config.model_dump(mode="json"), "qwthn_version": "0.1.0", "base_model_name_or_path": "tiny"}
    (old / "adapter_config.json").write_text(json.dumps(meta))
    state = adapter_state_dict(model)
    assert "model.layers.0.self_attn.q_proj.lora_A.weight" in state
    save_file(state, old / "adapter_model.safetensors")
    fresh = tiny_qwen2(seed=1)
    assert load_adapter(fresh, old) == config
    assert_same_logits(logits(fresh), logits(model))


def _edited(directory: Path, **changes: object) -> Path:
    path = directory / "adapter_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return directory


@pytest.mark.parametrize(("changes", "fragment"), [
    (dict(use_dora=True), "'use_dora': True (DoRA)"),
    (dict(bias="lora_only"), "'bias': 'lora_only'"),
    (dict(lora_bias=True), "'lora_bias'"),
    (dict(modules_to_save=["lm_head"]), "'modules_to_save'"),
    (dict(rank_pattern={"q_proj": 8}, use_rslora=True), "'use_rslora' with per-module ranks"),
    (dict(fan_in_fan_out=True), "'fan_in_fan_out'"),
    (dict(trainable_token_indices=[1, 2]), "'trainable_token_indices'"),
    (dict(init_lora_weights="pissa"), "'init_lora_weights': 'pissa' changes the base model's weights or the LoRA"),
    (dict(peft_type="IA3"), "a peft IA3 adapter; qwthn reads peft LoRA adapters only"),
], ids=lambda value: next(iter(value)) if isinstance(value, dict) else None)
def test_peft_features_qwthn_cannot_represent_are_refused_in_one_line(tmp_path, changes, fragment):
    save_adapter(adapted(LoRAConfig(r=4)), tmp_path / "adapter")
    _edited(tmp_path / "adapter", **changes)
    model = tiny_qwen2(seed=1)
    before = logits(model)
    with pytest.raises(QwthnError) as error:
        load_adapter(model, tmp_path / "adapter")
    message = str(error.value)
    assert fragment in message and "\n" not in message and "peft" in message
    assert not adapter_layers(model) and torch.equal(logits(model), before)


def test_real_peft_dora_and_embedding_adapters_are_refused(tmp_path):
    get_peft_model(tiny_qwen2(seed=1), LoraConfig(r=2, target_modules=["q_proj"], use_dora=True)).save_pretrained(
        tmp_path / "dora"
    )
    with pytest.raises(QwthnError, match=r"'use_dora': True \(DoRA\) has no equivalent in qwthn's LoRA"):
        load_adapter(tiny_qwen2(seed=1), tmp_path / "dora")
    get_peft_model(tiny_qwen2(seed=1), LoraConfig(r=2, target_modules=["embed_tokens", "q_proj"])).save_pretrained(
        tmp_path / "embedding"
    )
    model = tiny_qwen2(seed=1)
    with pytest.raises(QwthnError, match="is not the lora_A/lora_B weight of a linear layer"):
        load_adapter(model, tmp_path / "embedding")
    assert not adapter_layers(model)


def test_from_pretrained_loads_a_qwthn_adapter_the_way_peft_loads_its_own(tmp_path):
    model = adapted(QWTHNConfig(seed=0, n_qubits=3))
    expected = logits(model)
    save_adapter(model, tmp_path / "adapter")
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["method"] == "qwthn"

    fresh = tiny_qwen2(seed=1).train()
    loaded = from_pretrained(fresh, tmp_path / "adapter", runtime=RuntimeConfig(backend="emulator"))
    assert loaded is fresh and not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())  # peft's default: frozen, for inference
    assert loaded.qwthn_runtime.backend.name == "emulator"
    assert_same_logits(logits(loaded), expected)

    trainable = from_pretrained(tiny_qwen2(seed=1), tmp_path / "adapter", is_trainable=True)
    names = {n for n, p in trainable.named_parameters() if p.requires_grad}
    assert names and all(".base_layer." not in n for n in names)


def test_from_pretrained_reads_lora_too_and_peft_cannot_register_a_new_method(tmp_path):
    model = adapted(LoRAConfig(r=4))
    save_adapter(model, tmp_path / "adapter")
    loaded = from_pretrained(tiny_qwen2(seed=1), tmp_path / "adapter")
    assert all(isinstance(layer, LoRALinear) for layer in adapter_layers(loaded).values())
    assert_same_logits(logits(loaded), logits(model))
    # docs/peft.md: peft's method registry only takes names already in its PeftType enum
    with pytest.raises(ValueError, match="Unknown PEFT type QWTHN"):
        register_peft_method(name="qwthn", config_cls=LoraConfig, model_cls=None)
