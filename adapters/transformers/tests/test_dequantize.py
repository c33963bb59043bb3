"""`qwthn dequantize`: a trained adapter's circuits become their exact Fourier series, loadable with no backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from tiny_models import tiny_qwen2

from qwthn import LoRAConfig, QWTHNConfig, parse_adapter_config
from qwthn.errors import QwthnError
from qwthn.runtime.fourier import FourierSeries
from qwthn_transformers import inject_adapter, load_adapter, save_adapter
from qwthn_transformers.dequantize import dequantize_adapter


def trained(tmp_path, config, name="adapter"):
    model = tiny_qwen2(seed=1)
    inject_adapter(model, config)
    tokens = torch.randint(0, 97, (4, 12), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for _ in range(5):
        optimizer.zero_grad()
        model(tokens, labels=tokens).loss.backward()
        optimizer.step()
    save_adapter(model, tmp_path / name)
    return model.eval(), tmp_path / name


@pytest.mark.parametrize(
    "config",
    [QWTHNConfig(seed=0), QWTHNConfig(seed=0, reupload=True, readout="probs", fusion="linear"),
     parse_adapter_config({"method": "qtha", "r": 3, "mpo_width": 16, "seed": 0})],
    ids=["qwthn", "qwthn-reupload-probs", "qtha-r3"],
)  # fmt: skip
def test_a_trained_adapter_dequantizes_to_the_same_model(tmp_path, config):
    model, adapter = trained(tmp_path, config)
    tokens = torch.randint(0, 97, (3, 10), generator=torch.Generator().manual_seed(4))
    expected = model(tokens).logits
    report = dequantize_adapter(adapter, tmp_path / "classical")
    assert report["layers"] == 4 and report["max_abs_difference"] < 1e-5
    assert len(report["spectrum"]) == 4  # the quantumness meter of every layer
    summary = report["spectrum_summary"]
    assert 0 < summary["terms_for_share"] <= summary["terms"] == report["terms_per_output"]
    assert 0 < summary["max_order"] <= summary["full_order"]

    fresh = tiny_qwen2(seed=1)
    loaded = load_adapter(fresh, tmp_path / "classical")  # no runtime given: none is needed
    assert loaded.qnn_form == "fourier" and fresh.qwthn_runtime.backend.name == "none"
    assert sum(isinstance(m, FourierSeries) for m in fresh.modules()) == 4
    torch.testing.assert_close(fresh.eval()(tokens).logits, expected, atol=1e-5, rtol=0)


@pytest.mark.slow
def test_dequantized_adapter_runs_with_no_backend_plugin_installed(tmp_path):
    _, adapter = trained(tmp_path, QWTHNConfig(seed=0))
    dequantize_adapter(adapter, tmp_path / "classical")
    script = (
        "import torch, sys; sys.path.insert(0, sys.argv[2]);"
        "from tiny_models import tiny_qwen2; from qwthn_transformers import load_adapter;"
        "from qwthn.plugins import host;"
        "assert 'emulator' not in [e.name for e in host.backends()];"
        "m = tiny_qwen2(seed=1); load_adapter(m, sys.argv[1]); print(m.qwthn_runtime.backend.name)"
    )
    tests = os.path.dirname(__file__)
    env = {**os.environ, "QWTHN_PLUGINS": "qwthn-transformers"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "classical"), tests], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"


def test_adapters_without_circuits_and_taken_outputs_are_refused(tmp_path):
    _, lora = trained(tmp_path, LoRAConfig(r=2), name="lora")
    with pytest.raises(QwthnError, match="runs no circuit"):
        dequantize_adapter(lora, tmp_path / "out")
    _, adapter = trained(tmp_path, QWTHNConfig(seed=0))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("keep")
    with pytest.raises(QwthnError, match="not an empty directory"):
        dequantize_adapter(adapter, tmp_path / "taken")
    assert (tmp_path / "taken" / "x").read_text() == "keep"


@pytest.mark.slow
def test_cli_dequantize_prints_one_line_and_exits_2_on_bad_input(tmp_path):
    _, adapter = trained(tmp_path, QWTHNConfig(seed=0))
    cli = [sys.executable, "-m", "qwthn"]
    done = subprocess.run([*cli, "dequantize", str(adapter), str(tmp_path / "out"), "--report"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "dequantized 4 qwthn layer(s)" in done.stdout
    assert "terms for 99%" in done.stdout and "Fourier terms carry 99% of any read-out's variance" in done.stdout
    assert done.stdout.count(".layers.") == 4  # one table row per adapted layer
    assert json.loads((tmp_path / "out" / "adapter_config.json").read_text())["qnn_form"] == "fourier"
    again = subprocess.run([*cli, "dequantize", str(adapter), str(tmp_path / "out")], capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert again.stderr.strip().count("\n") == 0 and "not an empty directory" in again.stderr


def test_the_random_feature_surrogate_keeps_the_terms_it_draws_and_says_how_far_it_is(tmp_path):
    from qwthn.methods.dequantize import sample_terms

    _, adapter = trained(tmp_path, QWTHNConfig(seed=0))
    exact = dequantize_adapter(adapter, tmp_path / "exact")
    some = dequantize_adapter(adapter, tmp_path / "some", keep_terms=5, seed=1)
    every = dequantize_adapter(adapter, tmp_path / "every", keep_terms=exact["terms_per_output"] - 1, seed=1)
    assert some["kept_terms"] == 6 and some["surrogate_max_abs_difference"] > 1e-3  # a real approximation
    assert every["surrogate_max_abs_difference"] < 1e-5  # all terms kept: the exact series again
    n_series = 4 * exact["terms_per_output"] * 4  # 4 layers x terms x 4 read-outs
    assert some["parameters_after"] == exact["parameters_after"] - n_series + 4 * 6 * 4
    coefficients = torch.randn(3, 3, 3, 2)
    kept = sample_terms(coefficients, 4, seed=7)
    nonzero = kept.reshape(-1, 2) != 0
    assert nonzero[0].all() and int(nonzero[:, 0].sum()) == 5 and torch.equal(nonzero[:, 0], nonzero[:, 1])
    assert torch.equal(kept, sample_terms(coefficients, 4, seed=7))  # seeded
