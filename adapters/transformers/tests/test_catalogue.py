"""The catalogue of bad inputs: each one answered by one line (CLI: exit 2, no traceback) before any
work, with nothing half-written. docs/reliability.md is generated from these tests (see its header)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from tiny_models import tiny_qwen2

from qwthn import LoRAConfig, QWTHNConfig, RuntimeConfig
from qwthn.errors import QwthnError
from qwthn.methods.loading import parse_adapter_config
from qwthn.plugins import host
from qwthn_transformers import inject_adapter, load_adapter, merge_and_unload, save_adapter
from qwthn_transformers.checkpoint import Checkpoint
from qwthn_transformers.embedded import base_model
from qwthn_transformers.inject import adapter_layers
from qwthn_transformers.loading import load_causal_lm
from qwthn_transformers.train import TrainSettings, train


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def dataset(tmp: Path) -> Path:
    return write(tmp / "data.jsonl", "".join(json.dumps({"prompt": f"{i}+1=", "response": str(i + 1)}) + "\n"
                                             for i in range(8)))  # fmt: skip


def saved_adapter(tmp: Path, config=None) -> Path:
    model = tiny_qwen2()
    inject_adapter(model, config or LoRAConfig(r=2))
    return save_adapter(model, tmp / "adapter")


@dataclass(frozen=True)
class CliCase:
    """`qwthn ARGS` after `setup(tmp)` wrote what the arguments point at."""

    id: str
    tried: str
    args: Callable[[Path], list[str]]
    fragment: str
    env: dict[str, str] = field(default_factory=dict)


CLI_CASES = [
    CliCase("finetune-dataset-not-utf8", "a dataset file that is not UTF-8",
            lambda t: ["finetune", "--dataset", str(write(t / "d.jsonl", b'{"prompt": "\xff"}\n'))], "not UTF-8"),
    CliCase("finetune-dataset-directory", "a dataset path that is a directory",
            lambda t: ["finetune", "--dataset", str(t)], "is a directory"),
    CliCase("finetune-dataset-missing", "a dataset path that does not exist",
            lambda t: ["finetune", "--dataset", str(t / "nope.jsonl")], "does not exist"),
    CliCase("finetune-dataset-bad-json", "a dataset line that is not JSON",
            lambda t: ["finetune", "--dataset", str(write(t / "d.jsonl", '{"prompt": "a", "response": "b"}\n{oops\n'))],
            "line 2"),
    CliCase("finetune-dataset-missing-key", "a dataset line without a response",
            lambda t: ["finetune", "--dataset", str(write(t / "d.jsonl", '{"prompt": "a"}\n'))], "response"),
    CliCase("finetune-output-read-only", "--output where no one can write (/proc, root included)",
            lambda t: ["finetune", "--output", "/proc/qwthn-run"], "pass a writable --output"),
    CliCase("finetune-output-not-empty", "--output that already holds files",
            lambda t: ["finetune", "--output", str(write(t / "run" / "x", "keep").parent)], "already exists"),
    CliCase("finetune-output-is-file", "--output that is a file",
            lambda t: ["finetune", "--output", str(write(t / "run", "keep"))], "already exists"),
    CliCase("finetune-unknown-method", "an unknown --method",
            lambda t: ["finetune", "--method", "qlora"], "unknown --method 'qlora'"),
    CliCase("finetune-unknown-backend", "an unknown --backend",
            lambda t: ["finetune", "--backend", "ibm-eagle"], "unknown backend 'ibm-eagle'"),
    CliCase("finetune-zero-shots", "--shots 0", lambda t: ["finetune", "--shots", "0"], "--shots must be at least 1"),
    CliCase("finetune-zero-steps", "--max-steps 0",
            lambda t: ["finetune", "--max-steps", "0"], "--max-steps must be at least 1"),
    CliCase("finetune-zero-checkpoint-every", "--checkpoint-every 0",
            lambda t: ["finetune", "--checkpoint-every", "0"], "--checkpoint-every must be at least 1"),
    CliCase("finetune-seed-not-a-number", "--seed abc", lambda t: ["finetune", "--seed", "abc"],
            "Invalid value for '--seed'"),
    CliCase("finetune-unknown-flag", "a flag that does not exist",
            lambda t: ["finetune", "--learning-rate", "1e-3"], "No such option: --learning-rate"),
    CliCase("finetune-adapter-config-missing", "--adapter-config pointing nowhere",
            lambda t: ["finetune", "--adapter-config", str(t / "nope.yaml")], "does not exist"),
    CliCase("finetune-adapter-config-bad-yaml", "an adapter config that is not YAML",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "n_qubits: [4\n"))], "line 2, column 1"),
    CliCase("finetune-adapter-config-out-of-range", "an adapter config with n_qubits: 40",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "n_qubits: 40\n"))],
            "invalid 'n_qubits'"),
    CliCase("finetune-adapter-config-unknown-method", "an adapter config naming an unknown method",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "method: qlora\n"))],
            "invalid 'method'"),
    CliCase("finetune-adapter-config-runtime-key", "an adapter config holding a runtime setting (backend)",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "backend: qiskit\n"))],
            "is a runtime setting"),
    CliCase("finetune-adapter-config-disagrees", "--method qwthn with a LoRA adapter config",
            lambda t: ["finetune", "--method", "qwthn", "--adapter-config", str(write(t / "a.yaml", "method: lora\n"))],
            "make them agree"),
    CliCase("finetune-adapter-config-bad-regex", "an adapter config whose target_modules regex does not compile",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "target_modules: '(['\n"))],
            "invalid 'target_modules'"),
    CliCase("finetune-too-many-qubits", "22 qubits on the 20-qubit emulator",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "n_qubits: 22\n"))],
            "runs at most 20 qubits"),
    CliCase("finetune-init-adapter-missing", "--init-adapter pointing at an empty directory",
            lambda t: ["finetune", "--init-adapter", str(t)], "no adapter_config.json"),
    CliCase("finetune-resume-missing", "--resume of a directory that does not exist",
            lambda t: ["finetune", "--resume", str(t / "run")], "no such run directory"),
    CliCase("finetune-resume-not-a-run", "--resume of a directory that is not a run",
            lambda t: ["finetune", "--resume", str(t)], "not a resumable qwthn finetune run"),
    CliCase("finetune-resume-with-options", "--resume together with other options",
            lambda t: ["finetune", "--resume", str(t), "--seed", "3"], "leave out --seed"),
    CliCase("finetune-config-unknown-key", "a --config file with a misspelt option",
            lambda t: ["finetune", "--config", str(write(t / "r.yaml", "sed: 1\n"))], "invalid 'sed'"),
    CliCase("finetune-config-wrong-type", "a --config file with a wrong type",
            lambda t: ["finetune", "--config", str(write(t / "r.yaml", "max_steps: many\n"))], "invalid 'max_steps'"),
    CliCase("finetune-config-not-a-mapping", "a --config file holding a list",
            lambda t: ["finetune", "--config", str(write(t / "r.json", "[1, 2]"))], "not a mapping"),
    CliCase("finetune-config-no-value", "--config with no file after it", lambda t: ["finetune", "--config"],
            "--config needs a YAML or JSON file"),
    CliCase("finetune-allow-list-hides-backend", "QWTHN_PLUGINS set to a list without the emulator",
            lambda t: ["finetune", "--method", "qwthn"], "QWTHN_PLUGINS", env={"QWTHN_PLUGINS": "nosuch"}),
    CliCase("finetune-block-list-blocks-backend", "QWTHN_BLOCK_PLUGINS blocking the emulator",
            lambda t: ["finetune", "--method", "qwthn"], "blocked by QWTHN_BLOCK_PLUGINS",
            env={"QWTHN_BLOCK_PLUGINS": "emulator"}),
    CliCase("evaluate-adapter-missing", "evaluate with an adapter directory that does not exist",
            lambda t: ["evaluate", str(t / "nope")], "no adapter_config.json"),
    CliCase("evaluate-adapter-config-list", "evaluate an adapter whose adapter_config.json is a JSON list",
            lambda t: ["evaluate", str(write(t / "a" / "adapter_config.json", "[]").parent)], "holds a JSON list"),
    CliCase("evaluate-backend-options-not-json", "--backend-options that is not JSON",
            lambda t: ["evaluate", str(saved_adapter(t)), "--backend-options", "{shots: 3"], "--backend-options"),
    CliCase("evaluate-backend-options-unknown", "--backend-options with an option the backend lacks",
            lambda t: ["evaluate", str(saved_adapter(t)), "--backend-options", '{"precision": "double"}'],
            "'precision'"),
    CliCase("evaluate-missing-argument", "evaluate without the adapter argument", lambda t: ["evaluate"],
            "Missing argument 'adapter'"),
    CliCase("dequantize-lora", "dequantize a LoRA adapter (it has no circuit)",
            lambda t: ["dequantize", str(saved_adapter(t)), str(t / "out")], "lora"),
    CliCase("ablate-unknown-task", "ablate --task that does not exist",
            lambda t: ["ablate", "--task", "imagenet", "--output", str(t / "a")], "unknown --task 'imagenet'"),
    CliCase("ablate-zero-seeds", "ablate --seeds 0", lambda t: ["ablate", "--seeds", "0", "--output", str(t / "a")],
            "--seeds must be at least 1"),
    CliCase("ablate-negative-lr", "ablate --lr-multipliers with a negative number",
            lambda t: ["ablate", "--lr-multipliers", "1,-2", "--output", str(t / "a")], "--lr-multipliers"),
    CliCase("ablate-unknown-arm", "ablate --arms naming an arm that does not exist",
            lambda t: ["ablate", "--arms", "lora-r4,quantum-magic", "--output", str(t / "a")], "quantum-magic"),
    CliCase("backends-unknown", "backends with an unknown name", lambda t: ["backends", "ibm-eagle"],
            "unknown backend 'ibm-eagle'"),
    CliCase("config-init-existing", "config init onto an existing file",
            lambda t: ["config", "init", "finetune", "--output", str(write(t / "f.yaml", "keep\n"))],
            "already exists"),
    CliCase("config-schema-nothing", "config schema with neither a command nor --adapter",
            lambda t: ["config", "schema"], "name a command"),
]  # fmt: skip


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=pytest.mark.reliability(
    kind="bad input", surface="CLI", tried=c.tried)) for c in CLI_CASES])  # fmt: skip
def test_cli_bad_input_is_one_line_exit_2_nothing_written(case, tmp_path, monkeypatch, capsys, record_property):
    from qwthn.cli import main

    workdir = tmp_path / "work"
    workdir.mkdir()
    args = case.args(workdir)
    monkeypatch.chdir(workdir)  # a default run directory (runs/...) would appear here
    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path / "cache"))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    host.reset()
    before = snapshot(workdir)
    capsys.readouterr()

    def no_base_model(*args, **kwargs):
        raise AssertionError("the base model was about to be built: this input was not refused before work")

    monkeypatch.setattr(base_model, "pretrain", no_base_model)
    try:
        with pytest.raises(SystemExit) as exited:
            main(args)
    finally:
        host.reset()
    err = capsys.readouterr().err
    record_property("answer", err.strip().replace(str(workdir), "DIR"))
    assert exited.value.code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert case.fragment in err, err
    assert snapshot(workdir) == before  # nothing created, changed or half-written
    assert not (tmp_path / "cache").exists()  # refused before any model was built


def _model_with_adapter() -> torch.nn.Module:
    model = tiny_qwen2()
    inject_adapter(model, LoRAConfig(r=2))
    return model


@dataclass(frozen=True)
class ApiCase:
    id: str
    tried: str
    call: Callable[[Path], object]
    fragment: str


def _inject_twice(tmp: Path) -> None:
    inject_adapter(_model_with_adapter(), LoRAConfig(r=2))


def _load_onto_wrong_model(tmp: Path) -> None:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    other = Qwen2ForCausalLM(Qwen2Config(vocab_size=97, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1))  # fmt: skip
    load_adapter(other, saved_adapter(tmp))


def _assign(config: object, name: str, value: object) -> None:
    setattr(config, name, value)


API_CASES = [
    ApiCase("config-out-of-range", "QWTHNConfig(n_qubits=40)", lambda t: QWTHNConfig(n_qubits=40),
            "invalid 'n_qubits'"),
    ApiCase("config-unknown-field", "LoRAConfig(rank=4) (the field is r)", lambda t: LoRAConfig(rank=4),
            "invalid 'rank'"),
    ApiCase("config-assignment", "config.n_qubits = 0 on an existing config",
            lambda t: _assign(QWTHNConfig(), "n_qubits", 0), "invalid 'n_qubits'"),
    ApiCase("config-unknown-method", "parse_adapter_config({'method': 'qlora'})",
            lambda t: parse_adapter_config({"method": "qlora"}), "invalid 'method'"),
    ApiCase("runtime-unknown-backend", "RuntimeConfig(backend='ibm-eagle')",
            lambda t: RuntimeConfig(backend="ibm-eagle"), "unknown backend 'ibm-eagle'"),
    ApiCase("runtime-zero-shots", "RuntimeConfig(shots=0)", lambda t: RuntimeConfig(shots=0), "invalid 'shots'"),
    ApiCase("runtime-unknown-option", "RuntimeConfig(backend_options={'precision': 'double'})",
            lambda t: RuntimeConfig(backend_options={"precision": "double"}), "'precision'"),
    ApiCase("inject-a-dict", "inject_adapter(model, {'method': 'lora'}) (a dict, not a config)",
            lambda t: inject_adapter(tiny_qwen2(), {"method": "lora"}), "config"),
    ApiCase("inject-no-match", "target_modules that match no layer",
            lambda t: inject_adapter(tiny_qwen2(), LoRAConfig(target_modules=["query"])), "query"),
    ApiCase("inject-bad-regex", "target_modules as an invalid regular expression",
            lambda t: inject_adapter(tiny_qwen2(), LoRAConfig(target_modules="([")), "the regex '([' is invalid"),
    ApiCase("inject-twice", "inject_adapter on a model that already has one", _inject_twice, "already carries"),
    ApiCase("inject-too-many-qubits", "QWTHN with 22 qubits on the 20-qubit emulator",
            lambda t: inject_adapter(tiny_qwen2(), QWTHNConfig(n_qubits=22)), "runs at most 20 qubits"),
    ApiCase("save-without-adapter", "save_adapter on a model without an adapter",
            lambda t: save_adapter(tiny_qwen2(), t / "out"), "no qwthn adapter"),
    ApiCase("save-onto-file", "save_adapter to a path that is a file",
            lambda t: save_adapter(_model_with_adapter(), write(t / "file", "x")), "is a file"),
    ApiCase("load-empty-directory", "load_adapter from an empty directory",
            lambda t: load_adapter(tiny_qwen2(), t), "no adapter_config.json"),
    ApiCase("load-config-list", "load_adapter whose adapter_config.json is a JSON list",
            lambda t: load_adapter(tiny_qwen2(), write(t / "a" / "adapter_config.json", "[]").parent), "JSON list"),
    ApiCase("load-config-not-utf8", "load_adapter whose adapter_config.json is not UTF-8",
            lambda t: load_adapter(tiny_qwen2(), write(t / "a" / "adapter_config.json", b"\xff\xfe").parent), "UTF-8"),
    ApiCase("load-torn-weights", "load_adapter whose weights file is truncated",
            lambda t: load_adapter(tiny_qwen2(), _truncate(saved_adapter(t))), "not a readable safetensors file"),
    ApiCase("load-wrong-model", "load_adapter onto a model of another shape", _load_onto_wrong_model,
            "base model it was trained on"),
    ApiCase("merge-qwthn", "merge_and_unload of a QWTHN adapter (not linear in x)",
            lambda t: merge_and_unload(_qwthn_model()), "qwthn dequantize"),
    ApiCase("train-nothing-trainable", "train() on a model with nothing to train",
            lambda t: train(tiny_qwen2().requires_grad_(False), iter([]), TrainSettings(1, 1e-3), "x"),
            "no trainable parameters"),
    ApiCase("checkpoint-torn", "resuming from a checkpoint file that is garbage",
            lambda t: train(_model_with_adapter(), iter([]), TrainSettings(1, 1e-3), "x",
                            Checkpoint(write(t / "c.safetensors", b"\0" * 64), every=1)), "not a readable checkpoint"),
    ApiCase("load-model-missing", "load_causal_lm of a directory that does not exist",
            lambda t: load_causal_lm(str(t / "no-model")), "no-model"),
]  # fmt: skip


def _truncate(adapter: Path) -> Path:
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    return adapter


def _qwthn_model() -> torch.nn.Module:
    model = tiny_qwen2()
    inject_adapter(model, QWTHNConfig(n_qubits=2, n_layers=1))
    return model


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=pytest.mark.reliability(
    kind="bad input", surface="Python API", tried=c.tried)) for c in API_CASES])  # fmt: skip
def test_api_bad_input_is_one_line_error(case, tmp_path, monkeypatch, record_property):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(QwthnError) as raised:
        case.call(tmp_path)
    message = str(raised.value)
    record_property("answer", f"{type(raised.value).__name__}: {message}".replace(str(tmp_path), "DIR"))
    assert "\n" not in message and case.fragment in message, message


def test_failed_injection_and_loading_leave_the_model_as_it_was(tmp_path):
    """'Nothing half-written' for the Python API: the model a failed call was given is unchanged."""
    adapter = saved_adapter(tmp_path)
    for attempt in (lambda m: inject_adapter(m, QWTHNConfig(n_qubits=22)),
                    lambda m: load_adapter(m, _truncate(saved_adapter(tmp_path / "torn")))):  # fmt: skip
        model = tiny_qwen2()
        before = {name: p.clone() for name, p in model.state_dict().items()}
        with pytest.raises(QwthnError):
            attempt(model)
        assert not adapter_layers(model)
        after = model.state_dict()
        assert after.keys() == before.keys() and all(torch.equal(after[k], v) for k, v in before.items())
    load_adapter(tiny_qwen2(), adapter)  # and the good adapter beside them still loads


def test_the_catalogue_holds_at_least_40_bad_inputs():
    assert len(CLI_CASES) + len(API_CASES) >= 40
    assert len({c.id for c in CLI_CASES} | {c.id for c in API_CASES}) == len(CLI_CASES) + len(API_CASES)

