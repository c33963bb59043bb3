"""Every vendor backend computes what the emulator computes (exact and with shots, on random inputs, wide
enough to tell a backend one gate off apart), fine-tunes a few steps through `qwthn finetune --backend X` and
evaluates an emulator-trained adapter through `qwthn evaluate --backend X`, with no change to the adapter's
files."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from qwthn import get_backend
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime

QWTHN = str(Path(sys.executable).parent / "qwthn")
VENDORS = ["qiskit", "cirq", "braket", "pennylane"]
TINY_ADAPTER = {"method": "qwthn", "n_qubits": 2, "n_layers": 1, "seed": 0}
"""Two qubits and one layer: six parameter-shift slots, so the slow simulators take seconds per step."""


ROWS = 16
"""Random input rows per comparison: 48 <Z> values or 128 probabilities, none of them special angles."""
SHOTS = 4000
EXACT_TOLERANCE = 1e-5
"""Exact simulators agree with the (float32) emulator to ~4e-7 (measured); a gate off by 0.3 rad moves some
value by more than 0.1."""


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


def readouts(backend: str, readout: str, shots: int | None = None, nudge: float = 0.0) -> torch.Tensor:
    """The vendor's values of a 3-qubit, 2-layer QNN (CZ chain, so wire order matters) on ROWS random inputs,
    with its noise switched off where it models noise; `nudge` turns the first weight by that many radians."""
    options = get_backend(backend).capabilities.noise_off or {}
    circuit = build_qnn_circuit(3, 2, readout=readout)
    layer = QuantumLayer(circuit, Runtime(get_backend(backend, **options), shots=shots, seed=0), init_seed=1,
                         trainable=False)  # fmt: skip
    with torch.no_grad():
        layer.weights[0] += nudge
        inputs = (torch.rand(ROWS, circuit.n_inputs, generator=torch.Generator().manual_seed(2)) * 2 - 1) * math.pi
        return layer(inputs).double()


def shot_tolerance(exact: torch.Tensor, readout: str) -> torch.Tensor:
    """Five standard deviations of a SHOTS-sample estimate of each exact value (plus two counts' worth)."""
    variance = 1 - exact**2 if readout == "expval_z" else exact * (1 - exact)
    return 5 * (variance.clamp(min=0) / SHOTS).sqrt() + 2 / SHOTS


@pytest.mark.parametrize("readout", ["expval_z", "probs"])
@pytest.mark.parametrize("backend", [*VENDORS, "wukong"])
def test_the_vendor_backend_computes_what_the_emulator_computes(backend, readout):
    exact = readouts("emulator", readout)
    assert (readouts("emulator", readout, nudge=0.3) - exact).abs().max() > 0.1  # the inputs tell a wrong gate
    assert torch.allclose(readouts(backend, readout), exact, rtol=0, atol=EXACT_TOLERANCE)
    if get_backend(backend).capabilities.supports_shots:
        tolerance = shot_tolerance(exact, readout)
        assert ((readouts("emulator", readout, nudge=0.3) - exact).abs() > tolerance).any()  # and with shots too
        sampled = readouts(backend, readout, shots=SHOTS)
        assert ((sampled - exact).abs() <= tolerance).all(), (sampled - exact).abs().max()
        assert not torch.equal(sampled, exact)  # really sampled


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
