"""Bad input answered with one line before any work, and nothing half-written (issue [7]'s reported cases)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from tiny_models import tiny_qwen2

from qwthn import LoRAConfig, QWTHNConfig
from qwthn.errors import QwthnError
from qwthn.methods.loading import load_adapter_config
from qwthn_transformers import inject_adapter, load_adapter, save_adapter
from qwthn_transformers.data import load_jsonl
from qwthn_transformers.embedded import base_model
from qwthn_transformers.finetune import FinetuneOptions, run_finetune
from qwthn_transformers.inject import adapter_layers

QWTHN = [sys.executable, "-m", "qwthn"]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*QWTHN, *args], capture_output=True, text=True, env=env, timeout=300)


def assert_one_line(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr, result.stderr


def test_non_utf8_dataset_is_one_line_naming_the_line(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(b'{"prompt": "a", "response": "b"}\n{"prompt": "\xff\xfe", "response": "c"}\n')
    with pytest.raises(QwthnError, match=r"not UTF-8 \(line 2"):
        load_jsonl(data)
    result = cli("finetune", "--dataset", str(data), "--output", str(tmp_path / "run"),
                 env={**os.environ, base_model.CACHE_ENV: str(tmp_path / "cache")})  # fmt: skip
    assert_one_line(result, "is not UTF-8")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_a_dataset_directory_is_called_a_directory(tmp_path):
    with pytest.raises(QwthnError, match="is a directory"):
        load_jsonl(tmp_path)


def test_unwritable_output_is_refused_before_any_model_loads(tmp_path):
    env = {**os.environ, base_model.CACHE_ENV: str(tmp_path / "cache")}
    result = cli("finetune", "--output", "/proc/qwthn-run", env=env)  # no one can write there, root included
    assert_one_line(result, "pass a writable --output")
    assert not (tmp_path / "cache").exists()


def test_the_allow_list_variable_is_named_when_it_hides_every_backend(tmp_path):
    env = {**os.environ, "QWTHN_PLUGINS": "transformers"}
    result = cli("finetune", "--output", str(tmp_path / "run"), env=env)
    assert_one_line(result, "QWTHN_PLUGINS='transformers' hides installed plugins")
    listing = cli("backends", env={**os.environ, "QWTHN_PLUGINS": "nosuch"})
    assert "warning: QWTHN_PLUGINS='nosuch' hides installed plugins" in listing.stdout


def test_too_many_qubits_for_the_backend_fail_before_any_model_loads(tmp_path):
    config = tmp_path / "big.yaml"
    config.write_text("n_qubits: 22\n")  # the config allows it; the emulator runs at most 20
    env = {**os.environ, base_model.CACHE_ENV: str(tmp_path / "cache")}
    result = cli("finetune", "--adapter-config", str(config), "--output", str(tmp_path / "run"), env=env)
    assert_one_line(result, "runs at most 20 qubits")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_invalid_yaml_names_the_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("n_qubits: 4\nn_layers: [2\nseed: 1\n")
    with pytest.raises(QwthnError, match=r"not valid YAML \(line \d+, column \d+\)"):
        load_adapter_config(config)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"n_qubits": 4,\n "seed": }')
    with pytest.raises(QwthnError, match=r"not valid JSON \(line 2, column"):
        load_adapter_config(bad_json)


def test_configs_built_in_python_give_the_same_one_line_error():
    with pytest.raises(QwthnError, match=r"^QWTHNConfig: invalid 'n_qubits': .* \(got 40\)$"):
        QWTHNConfig(n_qubits=40)


def test_broken_adapter_files_and_paths_are_one_line_errors(tmp_path):
    model = tiny_qwen2()
    inject_adapter(model, LoRAConfig(r=2))
    save_adapter(model, tmp_path / "good")
    listed = tmp_path / "listed"
    listed.mkdir()
    (listed / "adapter_config.json").write_text(json.dumps(["method", "lora"]))
    with pytest.raises(QwthnError, match="holds a JSON list"):
        load_adapter(tiny_qwen2(), listed)
    (listed / "adapter_config.json").write_bytes(b'{"method": "lora", "r": "\xff"}')
    with pytest.raises(QwthnError, match="not UTF-8"):
        load_adapter(tiny_qwen2(), listed)
    (tmp_path / "file").write_text("x")
    with pytest.raises(QwthnError, match="is a file"):
        save_adapter(model, tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"
    with pytest.raises(QwthnError, match="takes an adapter config, got dict"):
        inject_adapter(tiny_qwen2(), {"method": "lora"})


def test_a_failed_load_leaves_the_model_as_it_was_so_a_retry_works(tmp_path):
    donor = tiny_qwen2()
    inject_adapter(donor, LoRAConfig(r=2))
    save_adapter(donor, tmp_path / "r2")
    config = json.loads((tmp_path / "r2" / "adapter_config.json").read_text())
    (tmp_path / "r3").mkdir()
    (tmp_path / "r3" / "adapter_config.json").write_text(json.dumps({**config, "r": 3}))
    (tmp_path / "r3" / "adapter_model.safetensors").write_bytes((tmp_path / "r2" / "adapter_model.safetensors")
                                                               .read_bytes())  # fmt: skip
    model = tiny_qwen2()
    before = {name: p.requires_grad for name, p in model.named_parameters()}
    with pytest.raises(QwthnError, match="has shape"):
        load_adapter(model, tmp_path / "r3")
    assert not adapter_layers(model) and {n: p.requires_grad for n, p in model.named_parameters()} == before
    load_adapter(model, tmp_path / "r2")  # the retry works
    tokens = torch.randint(0, 97, (2, 5))
    assert torch.equal(model(tokens).logits, donor(tokens).logits)


@pytest.mark.reliability(
    kind='fault', surface='CLI',
    tried='a backend failure after the run directory was created',
    held='the empty run directory is removed',
)
def test_a_failure_after_the_run_started_leaves_no_empty_run_directory(tmp_path, monkeypatch):
    from test_finetune import TINY  # the tiny recipe and its cached base model

    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path / "cache"))

    def fail(*args, **kwargs):
        raise QwthnError("the backend went away")

    monkeypatch.setattr("qwthn_transformers.finetune._finetune_one", fail)
    with pytest.raises(QwthnError):
        run_finetune(FinetuneOptions(output=tmp_path / "run", method="lora", max_steps=1), TINY)
    assert not (tmp_path / "run").exists()


@pytest.mark.reliability(
    kind='kill', surface='CLI',
    tried='Ctrl-C before training',
    held='exit 130 with "interrupted (Ctrl-C)", no traceback',
)
def test_ctrl_c_exits_130_with_a_message(monkeypatch, capfd):
    from qwthn import cli as core_cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("qwthn_transformers.finetune.run_finetune", interrupted)
    with pytest.raises(SystemExit) as exited:
        core_cli.main(["finetune", "--method", "lora"])
    assert exited.value.code == 130
    assert "interrupted" in capfd.readouterr().err
