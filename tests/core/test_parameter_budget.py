"""The paper's headline: QWTHN trains >= 76% fewer parameters than LoRA r=4 (checked on Qwen2.5-1.5B shapes)."""

from __future__ import annotations

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from qwthn import LoRAConfig, QWTHNConfig
from qwthn.model import inject_adapter

QWEN25_15B = Qwen2Config(  # the published Qwen2.5-1.5B shape
    vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
    num_attention_heads=12, num_key_value_heads=2, tie_word_embeddings=True,
)


def _trainable(config) -> int:
    with torch.device("meta"):
        model = Qwen2ForCausalLM(QWEN25_15B)
    return inject_adapter(model, config).trainable_params


def test_default_qwthn_trains_at_most_30_percent_of_lora_r4():
    lora = _trainable(LoRAConfig(r=4))
    assert lora == 28 * (4 * (1536 + 1536) + 4 * (1536 + 256))  # q_proj 1536->1536, v_proj 1536->256
    qwthn = _trainable(QWTHNConfig())
    assert qwthn <= 0.30 * lora
