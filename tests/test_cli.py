"""The `qwthn` command as a user runs it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAKE_PLUGIN_DIR

QWTHN = [sys.executable, "-m", "qwthn"]


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


def test_backends_lists_installed_plugins_with_versions(tmp_path):
    info = tmp_path / "qwthn_numpy_test-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qwthn-numpy-test\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[qwthn.backends]\nnumpy-test = numpy_backend\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(FAKE_PLUGIN_DIR)]), "COLUMNS": "200"}
    result = run("backends", env=env)
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") > 5}
    assert "emulator" in rows and "qwthn-emulator" in rows["emulator"] and "0.1.0" in rows["emulator"]
    assert "numpy-test" in rows and "0.3" in rows["numpy-test"] and "little" in rows["numpy-test"]


@pytest.fixture
def dataset(tmp_path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"prompt": f"{i}+1=", "response": str(i + 1)}) for i in range(8)) + "\n")
    return path


def test_unknown_backend_is_a_one_line_error(tmp_path):
    result = run("finetune", "--backend", "nope", "--output", str(tmp_path / "out"))
    assert_one_line_usage_error(result, "unknown backend 'nope'", "emulator", "pip install")


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
    result = run("finetune", "--config", str(config), "--output", str(tmp_path / "out"))
    assert_one_line_usage_error(result, "qwthn.yaml", "n_qubits")


def test_unknown_method_is_a_one_line_error(tmp_path):
    result = run("finetune", "--method", "dora", "--output", str(tmp_path / "out"))
    assert_one_line_usage_error(result, "dora", "qwthn", "lora")
