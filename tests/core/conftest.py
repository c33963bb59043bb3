"""Shared checks for core's method tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


def _tiny_causal_lm():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(1)
    return Qwen2ForCausalLM(Qwen2Config(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=1))  # fmt: skip


@pytest.fixture
def reloads_identically(tmp_path) -> Callable[[object], None]:
    """Inject a method's adapter into a tiny model, move its weights off their start, save, load onto a fresh
    model: the reloaded outputs must equal the trained ones bit for bit, and differ from the base model's
    (so a save that dropped the weights, or an adapter that does nothing, cannot pass)."""

    def check(config: object) -> None:
        from qwthn.model import inject_adapter, load_adapter, save_adapter

        trained = _tiny_causal_lm()
        inject_adapter(trained, config)
        generator = torch.Generator().manual_seed(2)
        with torch.no_grad():
            for param in trained.parameters():
                if param.requires_grad:
                    param.add_(torch.randn(param.shape, generator=generator) * 0.1)
        save_adapter(trained, tmp_path / "adapter")
        fresh = _tiny_causal_lm()
        load_adapter(fresh, tmp_path / "adapter")
        tokens = torch.tensor([[1, 5, 9, 2]])
        expected = trained.eval()(tokens).logits
        assert not torch.allclose(expected, _tiny_causal_lm().eval()(tokens).logits)  # the adapter acts
        torch.testing.assert_close(fresh.eval()(tokens).logits, expected, atol=0, rtol=0)

    return check
