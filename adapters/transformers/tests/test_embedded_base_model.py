"""The embedded Qwen2: pre-trained once, cached atomically under a key of everything that shapes it."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from transformers import PreTrainedTokenizerFast

from qwthn_transformers.embedded import base_model
from qwthn_transformers.embedded.base_model import BaseModelSpec, cache_key, load_or_pretrain
from qwthn_transformers.loading import load_causal_lm

TINY = BaseModelSpec(
    hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
    vocab_size=320, block_size=32, batch_size=4, steps=12, held_out=10, task_train=20,
)  # fmt: skip


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path))
    return tmp_path


def test_pretrains_once_then_reuses_the_cache(cache):
    path, cached = load_or_pretrain(TINY)
    assert not cached and path.parent == cache and path.name.endswith(cache_key(TINY))
    assert {"config.json", "model.safetensors", "tokenizer.json", "pretraining.json"} <= {
        p.name for p in path.iterdir()
    }
    assert [p.name for p in cache.iterdir()] == [path.name]  # no staging directory left behind
    info = json.loads((path / "pretraining.json").read_text())
    assert info["spec"] == dataclasses.asdict(TINY) and len(info["losses"]) == TINY.steps
    assert info["losses"][-1] < info["losses"][0]
    assert load_or_pretrain(TINY) == (path, True)

    model, tokenizer = load_causal_lm(str(path))
    assert model.config.model_type == "qwen2" and model.config.num_hidden_layers == 1
    assert isinstance(tokenizer, PreTrainedTokenizerFast) and tokenizer.pad_token_id is not None


def test_pretraining_is_deterministic():
    first, _, result = base_model.pretrain(TINY)
    second, _, again = base_model.pretrain(TINY)
    assert result.losses == again.losses
    assert all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


def test_cache_key_follows_the_spec():
    assert cache_key(TINY) == cache_key(dataclasses.replace(TINY))
    assert cache_key(TINY) != cache_key(dataclasses.replace(TINY, steps=13))
    assert cache_key(TINY) != cache_key(dataclasses.replace(TINY, seed=1))


def test_a_crash_while_saving_leaves_no_cache(cache, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(PreTrainedTokenizerFast, "save_pretrained", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        load_or_pretrain(TINY)
    assert list(cache.iterdir()) == []


def test_default_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv(base_model.CACHE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert base_model.cache_root() == tmp_path / ".cache" / "qwthn"


def test_a_concurrent_run_that_finished_first_wins(cache, monkeypatch):
    pretrain = base_model.pretrain

    def pretrain_while_another_run_finishes(spec):
        result = pretrain(spec)
        base_model.cache_path(spec).mkdir()
        (base_model.cache_path(spec) / "config.json").write_text("{}")
        return result

    monkeypatch.setattr(base_model, "pretrain", pretrain_while_another_run_finishes)
    path, cached = load_or_pretrain(TINY)
    assert not cached and [p.name for p in cache.iterdir()] == [path.name]
    assert [p.name for p in path.iterdir()] == ["config.json"]  # the other run's files, untouched
