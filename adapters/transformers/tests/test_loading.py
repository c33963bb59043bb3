"""Loading a causal LM: local directories work offline; every failure is a one-line QwthnError."""

from __future__ import annotations

import itertools

import pytest

from qwthn.errors import QwthnError
from qwthn_transformers import loading
from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded.base_model import BaseModelSpec, build_model
from qwthn_transformers.embedded.tokenizer import train_tokenizer
from qwthn_transformers.loading import load_causal_lm

SPEC = BaseModelSpec(
    hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1
)


def one_line_error(name: str) -> str:
    with pytest.raises(QwthnError) as error:
        load_causal_lm(name)
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.fixture
def tokenizer():
    return train_tokenizer(itertools.islice(corpus.base_documents(0, 10), 500), vocab_size=300)


def test_loads_a_saved_local_model(tmp_path, tokenizer):
    tokenizer.pad_token = None  # as many causal LM tokenizers ship
    build_model(SPEC, tokenizer).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model, loaded = load_causal_lm(str(tmp_path))
    assert model.config.model_type == "qwen2" and not model.training
    assert loaded.pad_token_id == loaded.eos_token_id


def test_a_tokenizer_larger_than_the_embedding_is_refused(tmp_path, tokenizer):
    model = build_model(SPEC, tokenizer)
    model.resize_token_embeddings(100)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert "embeds only 100" in one_line_error(str(tmp_path))


def test_missing_local_paths(tmp_path):
    assert f"{tmp_path / 'nope'} does not exist" in one_line_error(str(tmp_path / "nope"))
    assert "./nope does not exist" in one_line_error("./nope")
    (tmp_path / "weights.bin").write_text("x")
    assert "is a file" in one_line_error(str(tmp_path / "weights.bin"))
    assert "no config.json" in one_line_error(str(tmp_path))


def test_unreachable_hub_id_says_so_quickly(monkeypatch, tmp_path):
    monkeypatch.setattr(loading.constants, "HF_HUB_OFFLINE", True)
    message = one_line_error("someone/tiny-model")
    assert "'someone/tiny-model'" in message and "unreachable" in message and "--model" in message


def test_reachability_probe_fails_fast_for_a_closed_port(monkeypatch):
    monkeypatch.setattr(loading.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(loading.constants, "ENDPOINT", "http://127.0.0.1:9")
    assert not loading._hub_reachable()
