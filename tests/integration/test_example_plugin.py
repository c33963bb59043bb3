"""The third-party example plugin, installed by pip through its entry point, passes the conformance suite
and trains through `qwthn finetune` with no change to qwthn."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qwthn.testing.runner import run_suite

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "qwthn-example-backend"
BIN = Path(sys.executable).parent


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.fixture(scope="module")
def example_env(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(EXAMPLE)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert (target / "qwthn_example_backend-0.1.0.dist-info" / "entry_points.txt").is_file()
    return {**os.environ, "PYTHONPATH": str(target)}


def test_it_is_listed_with_its_version_and_options(example_env):
    result = subprocess.run([str(BIN / "qwthn"), "backends", "example", "--json"], env=example_env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    details = json.loads(result.stdout)
    assert details["distribution"] == "qwthn-example-backend" and details["version"] == "0.1.0"
    assert [option["name"] for option in details["options"]] == ["max_qubits", "max_batch"]


def test_it_passes_the_conformance_suite(example_env, tmp_path):
    result = run_suite("example", {"max_batch": 64}, cwd=tmp_path, env=example_env, timeout=300)
    assert result.returncode == 0, result.report
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_it_trains_and_evaluates_through_the_command_line(example_env, tmp_path):
    from qwthn_transformers.embedded import base_model, corpus
    from qwthn_transformers.embedded.base_model import BaseModelSpec
    from qwthn_transformers.embedded.tokenizer import train_tokenizer

    spec = BaseModelSpec(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=300)  # fmt: skip
    tokenizer = train_tokenizer(itertools.islice(corpus.base_documents(0, 10), 300), vocab_size=300)
    base_model.build_model(spec, tokenizer).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    dataset = tmp_path / "data.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": f"{i} + 1 =", "response": str(i + 1)}) + "\n" for i in range(10)))

    finetune = subprocess.run(
        [str(BIN / "qwthn"), "finetune", "--backend", "example", "--method", "qwthn",
         "--model", str(tmp_path / "model"), "--dataset", str(dataset), "--max-steps", "2",
         "--output", str(tmp_path / "run")],
        env=example_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert finetune.returncode == 0, finetune.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    result = metrics["methods"]["qwthn"]
    assert result["runtime"]["backend"] == "example" and result["backend_usage"]["calls"] > 0
    assert len(result["losses"]) == 2

    evaluate = subprocess.run(
        [str(BIN / "qwthn"), "evaluate", str(tmp_path / "run" / "qwthn"), "--backend", "example", "--shots", "64",
         "--dataset", str(dataset), "--limit", "2", "--json"],
        env=example_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    report = json.loads(evaluate.stdout)
    assert [r["label"] for r in report["results"]] == ["example, 64 shots", "emulator, exact"]
