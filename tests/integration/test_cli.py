"""The `qwthn` command as a user runs it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FAKE_PLUGIN_DIR
from qwthn.testing.installing import write_dist_info

QWTHN = [sys.executable, "-m", "qwthn"]


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*QWTHN, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def assert_one_line_usage_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_version_and_help():
    assert run("--version").stdout.strip() == "qwthn 0.1.0"
    assert "finetune" in run("--help").stdout


@pytest.fixture
def plugin_env(tmp_path) -> dict:
    """An environment where the NumPy test backend and a plugin that fails to import are installed."""
    site = tmp_path / "site"
    write_dist_info(site, "qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    write_dist_info(site, "qwthn-missing-dep", "0.2", "missing-dep", "broken_import_plugin")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(FAKE_PLUGIN_DIR)]), "COLUMNS": "80"}


def test_backends_piped_at_80_columns_prints_every_name_whole(plugin_env):
    result = run("backends", env=plugin_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "emulator  (qwthn-emulator 0.1.0)" in lines
    assert "numpy-test  (qwthn-numpy-test 0.3)" in lines
    assert "…" not in result.stdout and all(len(line) <= 80 for line in lines)
    assert "  gates: CNOT CZ H RX RY RZ X" in lines  # the emulator declares its gates explicitly
    broken = [line for line in lines if line.startswith("broken plugin missing-dep")]
    assert broken and "import failed: ModuleNotFoundError" in " ".join(result.stdout.split())


def test_backends_json_for_scripts(plugin_env):
    result = run("backends", "--json", env=plugin_env)
    listing = json.loads(result.stdout)
    backends = {backend["name"]: backend for backend in listing["backends"]}
    assert backends["numpy-test"]["capabilities"]["qubit_ordering"] == "little"
    assert backends["numpy-test"]["capabilities"]["gradient"] == "parameter-shift"
    assert [option["name"] for option in backends["emulator"]["options"]] == ["dtype", "fuse_threshold"]
    assert backends["emulator"]["options"][0]["default"] == "complex64"
    assert [broken["plugin"] for broken in listing["broken_plugins"]] == ["missing-dep"]


def test_backends_name_shows_capabilities_options_and_version(plugin_env):
    result = run("backends", "numpy-test", env=plugin_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("numpy-test  (qwthn-numpy-test 0.3, plugin 'numpy-test')")
    assert "  qubit_ordering: little" in result.stdout
    assert "  max_batch (" in result.stdout and "max_qubits (int, default 10)" in result.stdout


def test_backends_unknown_name_is_a_one_line_error(plugin_env):
    result = run("backends", "nope", env=plugin_env)
    assert_one_line_usage_error(result, "unknown backend 'nope'", "plugin 'missing-dep' is broken")


def test_core_command_line_imports_no_adapter_or_plugin():
    code = (
        "import sys, qwthn.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('qwthn_', 'transformers', 'torch'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stdout


def test_finetune_help_shows_every_default_and_the_choices():
    result = run("finetune", "--help", env={**os.environ, "COLUMNS": "250"})
    lines = result.stdout.splitlines()
    options = [line for line in lines if line.lstrip("│ ").startswith("--") and "--help" not in line]
    assert len(options) == 19  # 13 of its own, 6 runtime flags (qwthn.cli_runtime)
    for line in options:
        assert "[default: " in line, line
    assert any("Adapter method: qwthn, lora, quanta, qpa, quantum-peft, qtha, qtha-mpo," in line for line in options)
    assert any("Quantum backend: " in line and "emulator" in line for line in options)


@pytest.fixture
def dataset(tmp_path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"prompt": f"{i}+1=", "response": str(i + 1)}) for i in range(8)) + "\n")
    return path


@pytest.mark.parametrize("name", ["qiskit", "emulator"])
def test_a_backend_hidden_by_the_allow_list_is_not_called_missing(name):
    result = run("backends", name, env={**os.environ, "QWTHN_PLUGINS": ""})
    assert_one_line_usage_error(result)
    assert "QWTHN_PLUGINS='' hides installed plugins" in result.stderr and "pip install" not in result.stderr


def test_unknown_backend_hint_is_printed_exactly_as_written(tmp_path):
    env = {**os.environ, "QWTHN_PLUGINS": "emulator,transformers"}
    result = run("finetune", "--backend", "no-such", "--output", str(tmp_path / "out"), env=env)
    assert_one_line_usage_error(result)
    assert result.stderr == (
        "error: unknown backend 'no-such' (installed: emulator); "
        "no qwthn extra provides it; install the plugin that does (see docs/plugins.md)\n"
    )


CORE_ALONE = (
    "import sys; from importlib import metadata; real = metadata.entry_points; "
    "metadata.entry_points = lambda **kw: [] if kw.get('group') == 'qwthn' else real(**kw); "
    "from qwthn.cli import main; main(sys.argv[1:])"
)
"""Runs the CLI as if no plugin were installed (no entry points in group qwthn)."""


@pytest.mark.parametrize("name", ["qiskit", "cirq", "braket", "pennylane"])
def test_core_alone_names_the_extra_of_a_missing_vendor_backend(name):
    result = subprocess.run([sys.executable, "-c", CORE_ALONE, "backends", name], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert_one_line_usage_error(result)
    assert result.stderr == (
        f"error: unknown backend '{name}' (installed: none); install its plugin: pip install 'qwthn[{name}]'\n"
    )


def test_missing_model_path_is_a_one_line_error(tmp_path, dataset):
    result = run("finetune", "--model", str(tmp_path / "no-such-model"), "--dataset", str(dataset))
    assert_one_line_usage_error(result, "no-such-model")


def test_malformed_dataset_line_is_a_one_line_error(tmp_path, dataset):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(dataset.read_text() + "{not json\n")
    result = run("finetune", "--dataset", str(bad), "--output", str(tmp_path / "out"))
    assert_one_line_usage_error(result, "bad.jsonl", "line 9")


def test_invalid_config_value_is_a_one_line_error(tmp_path):
    config = tmp_path / "qwthn.yaml"
    config.write_text("n_qubits: -3\n")
    result = run("finetune", "--adapter-config", str(config), "--output", str(tmp_path / "out"))
    assert_one_line_usage_error(result, "qwthn.yaml", "n_qubits")


def test_unknown_method_is_a_one_line_error(tmp_path):
    result = run("finetune", "--method", "dora", "--output", str(tmp_path / "out"))
    assert_one_line_usage_error(result, "dora", "qwthn", "lora")


def test_evaluate_bad_input_is_a_one_line_error(tmp_path):
    result = run("evaluate", str(tmp_path / "no-adapter"))
    assert_one_line_usage_error(result, "no adapter_config.json in", "no-adapter")


@pytest.mark.parametrize("args", [
    ("finetune", "--output", ""), ("finetune", "--output="), ("finetune", "--model", ""),
    ("finetune", "--backend", ""), ("evaluate", ""), ("chip", "--output", ""),
])  # fmt: skip
def test_an_empty_argument_is_refused_not_taken_as_a_default(tmp_path, args):
    result = run(*args, cwd=tmp_path)
    assert_one_line_usage_error(result, "is empty; give it a value, or leave it out for its default")
    assert list(tmp_path.iterdir()) == []


def test_config_init_creates_missing_parents_and_refuses_unwritable_places(tmp_path):
    nested = tmp_path / "new" / "dir" / "finetune.yaml"
    result = run("config", "init", "finetune", "--output", str(nested))
    assert result.returncode == 0, result.stderr
    assert "max_steps" in nested.read_text()
    assert_one_line_usage_error(run("config", "init", "finetune", "--output", "/proc/qwthn.yaml"),
                                "cannot write /proc/qwthn.yaml", "pass a writable --output")  # fmt: skip
    (tmp_path / "file").write_text("x")
    assert_one_line_usage_error(run("config", "init", "finetune", "--output", str(tmp_path / "file" / "x.yaml")),
                                "is a file, not a directory")  # fmt: skip
    assert_one_line_usage_error(run("config", "init", "finetune", "--output", str(tmp_path)), "is a directory")


def test_config_file_booleans_for_numbers_empty_values_and_duplicate_keys_are_one_line(tmp_path):
    for text, fragment in (("max_steps: yes\n", "invalid 'max_steps': takes a number, not a boolean"),
                           ("output: ''\n", "invalid 'output': is empty"),
                           ("seed: 1\nseed: 2\n", "duplicate key 'seed'")):  # fmt: skip
        config = tmp_path / "finetune.yaml"
        config.write_text(text)
        assert_one_line_usage_error(run("finetune", "--config", str(config), cwd=tmp_path), fragment)
