"""Every vendor backend fine-tunes a few steps through `qwthn finetune --backend X` and evaluates an
emulator-trained adapter through `qwthn evaluate --backend X`, with no change to the adapter's files."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

QWTHN = str(Path(sys.executable).parent / "qwthn")
VENDORS = ["qiskit", "cirq", "braket", "pennylane"]
TINY_ADAPTER = {"method": "qwthn", "n_qubits": 2, "n_layers": 1, "seed": 0}
"""Two qubits and one layer: six parameter-shift slots, so the slow simulators take seconds per step."""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A tiny saved base model, a tiny dataset, and an adapter trained on the exact emulator."""
    from qwthn_transformers.embedded import base_model, corpus
    from qwthn_transformers.embedded.base_model import BaseModelSpec
    from qwthn_transformers.embedded.tokenizer import train_tokenizer

    root = tmp_path_factory.mktemp("vendors")
    spec = BaseModelSpec(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=300)  # fmt: skip
    tokenizer = train_tokenizer(itertools.islice(corpus.base_documents(0, 10), 300), vocab_size=300)
    base_model.build_model(spec, tokenizer).save_pretrained(root / "model")
    tokenizer.save_pretrained(root / "model")
    (root / "data.jsonl").write_text("".join(json.dumps({"prompt": f"{i}+1=", "response": str(i + 1)}) + "\n"
                                             for i in range(10)))  # fmt: skip
    (root / "adapter.json").write_text(json.dumps(TINY_ADAPTER))
    finetune(root, "emulator", root / "emulator-run", steps=3)
    return root


def finetune(root: Path, backend: str, output: Path, steps: int) -> dict:
    result = subprocess.run(
        [QWTHN, "finetune", "--backend", backend, "--method", "qwthn", "--model", str(root / "model"),
         "--dataset", str(root / "data.jsonl"), "--adapter-config", str(root / "adapter.json"),
         "--max-steps", str(steps),
         "--output", str(output)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((output / "metrics.json").read_text())


@pytest.mark.parametrize("backend", VENDORS)
def test_finetune_trains_through_the_vendor_backend(workspace, tmp_path, backend):
    metrics = finetune(workspace, backend, tmp_path / "run", steps=1)
    result = metrics["methods"]["qwthn"]
    assert result["runtime"]["backend"] == backend
    assert result["backend_usage"]["calls"] > 0 and result["backend_usage"]["circuits"] >= 1
    assert len(result["losses"]) == 1 and (tmp_path / "run" / "qwthn" / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize("backend", VENDORS)
def test_evaluate_runs_an_emulator_trained_adapter_on_the_vendor_backend(workspace, backend):
    adapter = workspace / "emulator-run" / "qwthn"
    saved = (adapter / "adapter_config.json").read_text()
    result = subprocess.run(
        [QWTHN, "evaluate", str(adapter), "--backend", backend, "--dataset", str(workspace / "data.jsonl"),
         "--limit", "2", "--json"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    vendor, exact = json.loads(result.stdout)["results"]
    assert vendor["label"] == f"{backend}, exact" and exact["label"] == "emulator, exact"
    assert vendor["correct"] == exact["correct"] and vendor["total"] == 2  # exact simulators: the same predictions
    assert vendor["backend_usage"]["rows"] == exact["backend_usage"]["rows"] > 0
    assert (adapter / "adapter_config.json").read_text() == saved


def test_evaluate_runs_an_emulator_trained_adapter_on_the_simulated_wukong_chip(workspace):
    adapter = workspace / "emulator-run" / "qwthn"
    reports = {}
    for mitigation in ("none", "readout"):
        result = subprocess.run(
            [QWTHN, "evaluate", str(adapter), "--backend", "wukong", "--backend-options",
             json.dumps({"mitigation": mitigation}), "--shots", "2000", "--dataset", str(workspace / "data.jsonl"),
             "--limit", "2", "--json"],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        reports[mitigation] = json.loads(result.stdout)["results"]
    chip, exact = reports["none"]
    assert chip["label"] == "wukong, 2000 shots" and exact["label"] == "emulator, exact"
    assert chip["total"] == exact["total"] == 2
    assert chip["backend_usage"]["shots"] == 2000 * chip["backend_usage"]["rows"]
    assert reports["readout"][0]["runtime"]["backend_options"] == {"mitigation": "readout"}

    dry = subprocess.run(
        [QWTHN, "evaluate", str(adapter), "--backend", "wukong", "--shots", "2000", "--dry-run",
         "--dataset", str(workspace / "data.jsonl"), "--limit", "2", "--json"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr[-3000:]
    (counted,) = json.loads(dry.stdout)["results"]
    assert counted["backend_usage"]["rows"] > 0 and counted["backend_usage"]["estimated_device_seconds"] > 0
