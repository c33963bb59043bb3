"""The ablation example runs at tiny size on a dataset of its own making (the Trainer and accelerate
examples are run by adapters/transformers/tests; the plugin package by test_example_plugin.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_the_ablation_example_reports_every_arm_on_a_user_dataset(tmp_path):
    env = {**os.environ, "QWTHN_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    output = tmp_path / "ablate"
    done = subprocess.run([sys.executable, str(EXAMPLES / "ablate_user_dataset.py"), "--tiny", "--output", str(output)],
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    dataset = tmp_path / "ablate-data.jsonl"
    assert all(json.loads(line)["prompt"].startswith("reverse: ") for line in dataset.read_text().splitlines())
    report = json.loads((output / "report.json").read_text())
    assert json.loads((output / "ablation.json").read_text())["dataset"] == str(dataset)
    assert set(report["summary"]) == {"lora-r4", "qwthn", "qwthn-no-qnn", "qwthn-mlp"}
    compared = {(c["arm"], c["control"]) for c in report["comparisons"]}
    assert compared >= {("qwthn", "qwthn-no-qnn"), ("qwthn", "qwthn-mlp")}
    assert report["verdict"] and (output / "report.md").is_file()
