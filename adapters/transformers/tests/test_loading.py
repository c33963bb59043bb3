"""Loading a causal LM: local directories work offline; every failure is a one-line QwthnError."""

from __future__ import annotations

import itertools
import json
import sys

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


PLANTED = "from pathlib import Path\nPath({marker!r}).write_text('ran')\nraise RuntimeError('planted code ran')\n"


def plant_remote_code(directory, tokenizer, model_type: str = "qwthn-planted"):
    """A saved model whose config.json points (auto_map) at a modeling file that leaves a marker if imported."""
    build_model(SPEC, tokenizer).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    config = json.loads((directory / "config.json").read_text())
    config["model_type"] = model_type
    config["auto_map"] = {"AutoConfig": "planted_modeling.PlantedConfig",
                          "AutoModelForCausalLM": "planted_modeling.PlantedModel"}  # fmt: skip
    (directory / "config.json").write_text(json.dumps(config))
    marker = directory / "planted-code-ran"
    (directory / "planted_modeling.py").write_text(PLANTED.format(marker=str(marker)))
    return marker


@pytest.fixture
def modules_cache(tmp_path, monkeypatch):
    """Where transformers copies trusted model code, kept inside tmp_path and out of sys.path afterwards."""
    from transformers import dynamic_module_utils

    monkeypatch.setattr(dynamic_module_utils, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = {name for name in sys.modules if name.startswith("transformers_modules")}
    for name in before:
        monkeypatch.delitem(sys.modules, name)
    yield
    for name in [name for name in sys.modules if name.startswith("transformers_modules")]:
        sys.modules.pop(name, None)


def test_a_models_own_code_is_not_run_by_default(tmp_path, tokenizer):
    marker = plant_remote_code(tmp_path, tokenizer)
    message = one_line_error(str(tmp_path))
    assert not marker.exists()
    assert message == (
        f"model {tmp_path} ships its own Python code (an auto_map in its config), which qwthn does not run "
        "unless asked; read that code, then pass --trust-remote-code (trust_remote_code=True) to run it"
    )


def test_trust_remote_code_runs_it_when_asked(tmp_path, tokenizer, modules_cache):
    """The control for the test above: the planted file really is what transformers would import."""
    marker = plant_remote_code(tmp_path, tokenizer)
    with pytest.raises(RuntimeError, match="planted code ran"):
        load_causal_lm(str(tmp_path), trust_remote_code=True)
    assert marker.exists()


def test_an_auto_map_on_a_known_architecture_loads_the_built_in_class(tmp_path, tokenizer):
    marker = plant_remote_code(tmp_path, tokenizer, model_type="qwen2")
    model, _ = load_causal_lm(str(tmp_path))
    assert type(model).__module__.startswith("transformers.models.qwen2") and not marker.exists()


def test_loading_passes_trust_remote_code_false_explicitly(tmp_path, tokenizer, monkeypatch):
    """transformers' default (None) prompts on a terminal before refusing; qwthn never leaves it to that."""
    build_model(SPEC, tokenizer).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    seen = []
    for auto in (loading.AutoTokenizer, loading.AutoModelForCausalLM):
        original = auto.from_pretrained

        def spy(*args, _original=original, **kwargs):
            seen.append(kwargs.get("trust_remote_code", "missing"))
            return _original(*args, **kwargs)

        monkeypatch.setattr(auto, "from_pretrained", spy)
    load_causal_lm(str(tmp_path))
    assert seen == [False, False]
