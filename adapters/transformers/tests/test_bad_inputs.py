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
from qwthn.model.inject import adapter_layers
from qwthn.plugins import host
from qwthn_transformers import inject_adapter, load_adapter, save_adapter
from qwthn_transformers.data import load_jsonl
from qwthn_transformers.embedded import base_model
from qwthn_transformers.finetune import FinetuneOptions, run_finetune

QWTHN = [sys.executable, "-m", "qwthn"]


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


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
def test_a_failure_after_the_run_started_leaves_no_empty_run_directory(tmp_path, monkeypatch, reliability):
    from test_finetune import TINY  # the tiny recipe and its cached base model

    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path / "cache"))

    def fail(*args, **kwargs):
        raise QwthnError("the backend went away")

    monkeypatch.setattr("qwthn_transformers.finetune._finetune_one", fail)
    with pytest.raises(QwthnError) as failed:
        run_finetune(FinetuneOptions(output=tmp_path / "run", method="lora", max_steps=1), TINY)
    reliability.answer(f"{type(failed.value).__name__}: {failed.value}; run directory left: "
                       f"{(tmp_path / 'run').exists()}", tmp_path)  # fmt: skip
    assert "the backend went away" in str(failed.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.reliability(
    kind='kill', surface='CLI',
    tried='Ctrl-C before training',
    held='exit 130 with "interrupted (Ctrl-C)", no traceback',
)
def test_ctrl_c_exits_130_with_a_message(monkeypatch, capfd, reliability):
    from qwthn import cli as core_cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("qwthn_transformers.finetune.run_finetune", interrupted)
    with pytest.raises(SystemExit) as exited:
        core_cli.main(["finetune", "--method", "lora"])
    captured = capfd.readouterr()
    reliability.answer(f"exit {exited.value.code}; stderr: {captured.err}")
    assert exited.value.code == 130
    assert captured.err == "interrupted (Ctrl-C)\n" and "Traceback" not in captured.err + captured.out, captured


# --- issue [14]: a new user's bad-input run ---


@pytest.fixture
def model_dir(tmp_path):
    """A tiny saved causal LM (model + tokenizer) in tmp_path / "model"."""
    import itertools

    from qwthn_transformers.embedded import corpus
    from qwthn_transformers.embedded.base_model import BaseModelSpec, build_model
    from qwthn_transformers.embedded.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(itertools.islice(corpus.base_documents(0, 10), 300), vocab_size=300)
    spec = BaseModelSpec(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1)  # fmt: skip
    directory = tmp_path / "model"
    build_model(spec, tokenizer).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_dataset(path, pairs):
    path.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in pairs), encoding="utf-8")
    return path


def test_a_truncated_model_safetensors_is_one_line_before_training(tmp_path, model_dir):
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = cli("finetune", "--model", str(model_dir), "--output", str(tmp_path / "run"))
    assert_one_line(result, "is truncated")
    assert "SafetensorError" not in result.stderr and not (tmp_path / "run").exists()


def test_a_model_directory_without_tokenizer_files_is_one_line_before_training(tmp_path, model_dir):
    for child in model_dir.iterdir():
        if child.name.startswith(("tokenizer", "special_tokens", "vocab", "merges")):
            child.unlink()
    result = cli("finetune", "--model", str(model_dir), "--output", str(tmp_path / "run"))
    assert_one_line(result, "has no tokenizer files")
    assert not (tmp_path / "run").exists()


def test_negative_seeds_are_refused_in_one_line(tmp_path):
    from qwthn import QWTHNConfig, RuntimeConfig

    env = {**os.environ, base_model.CACHE_ENV: str(tmp_path / "cache")}
    assert_one_line(cli("finetune", "--seed", "-1", "--output", str(tmp_path / "run"), env=env), "--seed must be")
    adapter = tmp_path / "adapter"
    model = tiny_qwen2()
    inject_adapter(model, QWTHNConfig(n_qubits=2, n_layers=1))
    save_adapter(model, adapter)
    assert_one_line(cli("evaluate", str(adapter), "--shots", "100", "--seed", "-3", env=env), "--seed must be")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()
    with pytest.raises(QwthnError, match="invalid 'seed'"):
        RuntimeConfig(seed=-1)
    with pytest.raises(QwthnError, match="invalid 'seed'"):
        QWTHNConfig(seed=-5)


def test_an_absurd_max_steps_is_refused_with_the_reason(tmp_path):
    env = {**os.environ, base_model.CACHE_ENV: str(tmp_path / "cache")}
    result = cli("finetune", "--max-steps", "99999999999999999999", "--output", str(tmp_path / "run"), env=env)
    assert_one_line(result, "warm-up")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("value", ["true", "yes", "on"])
def test_a_boolean_qubit_count_is_refused_naming_the_field(tmp_path, value):
    config = tmp_path / "adapter.yaml"
    config.write_text(f"n_qubits: {value}\n")
    with pytest.raises(QwthnError, match="invalid 'n_qubits'.*not a boolean"):
        load_adapter_config(config)


def test_finetune_to_a_pipe_writes_no_carriage_returns(tmp_path, model_dir):
    data = write_dataset(tmp_path / "data.jsonl", [(f"{i}+1=", str(i + 1)) for i in range(6)])
    result = cli("finetune", "--model", str(model_dir), "--dataset", str(data), "--method", "lora",
                 "--max-steps", "1", "--output", str(tmp_path / "run"))  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\r" not in result.stderr and "\r" not in result.stdout, result.stderr[-2000:]


def test_a_bom_dataset_is_read_and_a_gzipped_one_is_called_gzip(tmp_path):
    import gzip

    text = '{"prompt": "a", "response": "b"}\n{"prompt": "c", "response": "d"}\n'
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [e.prompt for e in load_jsonl(bom)] == ["a", "c"]
    zipped = tmp_path / "data.jsonl.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(QwthnError, match="is gzip-compressed; decompress it"):
        load_jsonl(zipped)
    config = tmp_path / "adapter.yaml"
    config.write_bytes(b"\xef\xbb\xbfn_qubits: 3\n")
    assert load_adapter_config(config).n_qubits == 3


def test_an_interrupted_run_reused_as_output_suggests_resume(tmp_path):
    run = tmp_path / "run"
    (run / "state").mkdir(parents=True)
    (run / "state" / "run.json").write_text("{}")
    (run / "INCOMPLETE").write_text("stopped")
    result = cli("finetune", "--output", str(run))
    assert_one_line(result, f"--resume {run}")


def test_duplicate_examples_are_dropped_before_the_split_with_a_warning(tmp_path, capfd, monkeypatch):
    from qwthn_transformers.finetune import _examples, prepare

    pairs = [(f"{i}+1=", str(i + 1)) for i in range(10)] + [("0+1=", "1")] * 5
    data = write_dataset(tmp_path / "data.jsonl", pairs)
    plan = prepare(FinetuneOptions(dataset=data, method="lora", output=tmp_path / "run"))
    train_set, held_out, _ = _examples(plan)
    assert len(train_set) + len(held_out) == 10 and not set(train_set) & set(held_out)
    assert "repeats 5 example(s)" in capfd.readouterr().err


def test_a_cut_prompt_is_counted(tmp_path):
    from qwthn_transformers.data import Example, truncated

    tokenizer = base_model_tokenizer()
    examples = [Example("1+1=", "2"), Example("word " * 400, "2")]
    assert truncated(tokenizer, examples, 256) == 1


def base_model_tokenizer():
    import itertools

    from qwthn_transformers.embedded import corpus
    from qwthn_transformers.embedded.tokenizer import train_tokenizer

    return train_tokenizer(itertools.islice(corpus.base_documents(0, 10), 300), vocab_size=300)


def test_duplicate_keys_in_config_files_name_the_key(tmp_path):
    yaml_file = tmp_path / "a.yaml"
    yaml_file.write_text("n_qubits: 4\nn_layers: 2\nn_qubits: 6\n")
    with pytest.raises(QwthnError, match="duplicate key 'n_qubits'"):
        load_adapter_config(yaml_file)
    json_file = tmp_path / "a.json"
    json_file.write_text('{"n_qubits": 4, "n_qubits": 6}')
    with pytest.raises(QwthnError, match="duplicate key 'n_qubits'"):
        load_adapter_config(json_file)


def test_forward_only_with_a_circuit_free_method_is_refused(tmp_path):
    result = cli("finetune", "--forward-only", "--method", "lora", "--output", str(tmp_path / "run"))
    assert_one_line(result, "--forward-only freezes circuits")


def test_evaluating_a_circuit_free_adapter_on_another_backend_says_it_is_unused(tmp_path, monkeypatch, capfd):
    from qwthn_transformers import evaluate_adapter

    adapter = saved_lora(tmp_path)
    seen = []
    monkeypatch.setattr(evaluate_adapter, "_evaluate_on", lambda options, base, runtime, backend, examples: seen.append(
        runtime) or {"label": "x", "accuracy": 0, "correct": 0, "total": 1, "seconds": 0,
                     "backend_usage": {"summary": ""}})  # fmt: skip
    options = evaluate_adapter.EvaluateOptions(adapter=adapter, model="unused", shots=100, limit=1)
    evaluate_adapter.run_evaluate(options)
    assert len(seen) == 1
    assert "runs no circuit, so --shots 100 go unused" in capfd.readouterr().err


def saved_lora(tmp_path):
    model = tiny_qwen2()
    inject_adapter(model, LoRAConfig(r=2))
    return save_adapter(model, tmp_path / "adapter")


def test_save_adapter_over_an_adapter_warns_unless_overwrite(tmp_path):
    import warnings

    model = tiny_qwen2()
    inject_adapter(model, LoRAConfig(r=2))
    save_adapter(model, tmp_path / "adapter")
    with pytest.warns(UserWarning, match="replacing the adapter already in"):
        save_adapter(model, tmp_path / "adapter")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_adapter(model, tmp_path / "adapter", overwrite=True)


def test_a_corrupt_adapter_and_too_many_shots_fail_before_the_model_loads(tmp_path, monkeypatch):
    from qwthn_transformers import evaluate_adapter, finetune

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(evaluate_adapter, "load_causal_lm", no_model)
    monkeypatch.setattr(finetune, "load_causal_lm", no_model)
    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path / "cache"))
    adapter = tmp_path / "adapter"
    model = tiny_qwen2()
    inject_adapter(model, QWTHNConfig(n_qubits=2, n_layers=1))
    save_adapter(model, adapter)
    too_many = evaluate_adapter.EvaluateOptions(adapter=adapter, model="x", backend="wukong", shots=10**9)
    if "wukong" in [entry.name for entry in host.backends()]:
        with pytest.raises(QwthnError, match="shots"):
            evaluate_adapter.run_evaluate(too_many)
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(QwthnError, match="not a readable safetensors file"):
        evaluate_adapter.run_evaluate(evaluate_adapter.EvaluateOptions(adapter=adapter, model="x"))
    with pytest.raises(QwthnError, match="not a readable safetensors file"):
        finetune.prepare(FinetuneOptions(init_adapter=adapter, output=tmp_path / "run"))
    assert not (tmp_path / "cache").exists()


def test_empty_strings_are_refused_in_python_options_too(tmp_path):
    for name in ("model", "backend", "output", "dataset"):
        with pytest.raises(QwthnError, match="is empty"):
            FinetuneOptions(**{name: ""})
