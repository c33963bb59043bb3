"""merge_and_unload: LoRA folds into the base weights with the same logits; circuit adapters are refused."""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel
from test_peft_interop import adapted, logits
from tiny_models import tiny_llama, tiny_qwen2
from transformers import Qwen2Config, Qwen2ForCausalLM

from qwthn import LoRAConfig, QWTHNConfig, parse_adapter_config
from qwthn.errors import QwthnError
from qwthn.methods.base import AdapterLayer
from qwthn.model.inject import adapter_layers
from qwthn_transformers import inject_adapter, merge_and_unload, save_adapter


@pytest.mark.parametrize("build", [tiny_qwen2, tiny_llama])
def test_merging_lora_keeps_the_logits_and_leaves_a_plain_model(build):
    model = adapted(LoRAConfig(r=4, alpha=6, target_modules="all-linear"), build)
    expected = logits(model)
    base = build(seed=1)
    assert (expected - logits(base)).abs().max() > 1e-2  # a non-zero update, so merging must move the weights

    assert merge_and_unload(model) is model
    assert not adapter_layers(model) and not any(isinstance(m, AdapterLayer) for m in model.modules())
    assert model.state_dict().keys() == base.state_dict().keys()
    assert not hasattr(model, "qwthn_adapter_config")
    assert all(p.requires_grad for p in model.parameters())  # the base model's own flags are back
    torch.testing.assert_close(logits(model), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(QwthnError, match="no qwthn adapter"):
        save_adapter(model, "unused")


def test_the_merged_weights_are_the_ones_peft_merges(tmp_path):
    model = adapted(LoRAConfig(r=4, alpha=8, target_modules=["q_proj", "down_proj"]))
    save_adapter(model, tmp_path / "adapter")
    ours = merge_and_unload(model).state_dict()
    theirs = PeftModel.from_pretrained(tiny_qwen2(seed=1), tmp_path / "adapter").merge_and_unload().state_dict()
    assert ours.keys() == theirs.keys()
    for name, weight in ours.items():
        torch.testing.assert_close(weight, theirs[name], atol=1e-6, rtol=1e-6)
    assert not torch.equal(ours["model.layers.0.self_attn.q_proj.weight"],
                           tiny_qwen2(seed=1).state_dict()["model.layers.0.self_attn.q_proj.weight"])  # fmt: skip


@pytest.mark.parametrize("config", [
    QWTHNConfig(seed=0, n_qubits=3),
    parse_adapter_config({"method": "qtha", "r": 2, "mpo_width": 16, "seed": 0}),
], ids=["qwthn", "qtha"])
def test_circuit_adapters_are_refused_with_one_line_that_points_to_dequantize(config):
    model = adapted(config)
    expected = logits(model)
    with pytest.raises(QwthnError) as error:
        merge_and_unload(model)
    message = str(error.value)
    assert "\n" not in message and "not a linear map" in message and "qwthn dequantize" in message
    assert len(adapter_layers(model)) == 4 and torch.equal(logits(model), expected)  # left as it was


def test_a_tied_weight_is_refused_and_a_bare_model_says_it_has_no_adapter():
    torch.manual_seed(1)
    tied = Qwen2ForCausalLM(Qwen2Config(
        vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
    )).eval()  # fmt: skip
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    inject_adapter(tied, LoRAConfig(r=2, target_modules=["lm_head"]))
    embedding = tied.model.embed_tokens.weight.detach().clone()
    with pytest.raises(QwthnError, match="cannot merge into lm_head: its weight is shared"):
        merge_and_unload(tied)
    assert adapter_layers(tied) and torch.equal(tied.model.embed_tokens.weight, embedding)
    with pytest.raises(QwthnError, match="this model has no qwthn adapter to merge"):
        merge_and_unload(tiny_qwen2())

