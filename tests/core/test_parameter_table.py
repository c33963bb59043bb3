"""benchmarks/parameter_table.py counts what closed forms say it should (Qwen2.5-1.5B shapes, meta device)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qwthn.methods.qtha.layer import mpo_modes

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "parameter_table.py"
MODEL = "Qwen2.5-1.5B"
LAYERS, HIDDEN, KV_WIDTH = 28, 1536, 256  # q_proj 1536 -> 1536, v_proj 1536 -> 256 (2 kv heads x 128)


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("parameter_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    try:
        spec.loader.exec_module(module)
        yield module, module.parameter_table([MODEL])
    finally:
        sys.modules.pop(spec.name, None)


def mpo_params(in_modes: tuple[int, ...], out_modes: tuple[int, ...], ranks=(1, 8, 8, 8, 1)) -> int:
    """The authors' TT layer: core k holds r_{k-1} * in_k * out_k * r_k entries."""
    return sum(ranks[k] * i * o * ranks[k + 1] for k, (i, o) in enumerate(zip(in_modes, out_modes, strict=True)))


def qtha_abc_params(d_in: int, d_out: int, r: int = 4, width: int = 256) -> int:
    """MPO_A (d_in -> 256) + MPO_B (256 -> d_out) + dense 256 x r twice + QW, CW (r x r) + circuit (4 r L, L = r)."""
    middle = mpo_modes(width, 4)
    mpo = mpo_params(mpo_modes(d_in, 4), middle) + mpo_params(middle, mpo_modes(d_out, 4))
    return mpo + 2 * width * r + 2 * r * r + 4 * r * r


def test_lora_r4_matches_closed_form(table):
    _, result = table
    assert result["counts"]["LoRA r=4"][MODEL] == LAYERS * (4 * (HIDDEN + HIDDEN) + 4 * (HIDDEN + KV_WIDTH))


def test_qwthn_default_stays_within_the_budget(table):
    _, result = table
    counts = result["counts"]
    assert counts["qwthn (default)"][MODEL] <= 0.30 * counts["LoRA r=4"][MODEL]


def test_qwthn_default_stays_within_30_percent_of_lora_r4_on_every_model_shape(table):
    module, _ = table
    for name, shape in module.MODELS.items():
        qwthn, lora = (
            module.count(shape, module.METHODS["qwthn (default)"]),
            module.count(shape, module.METHODS["LoRA r=4"]),
        )
        assert qwthn <= 0.30 * lora, (name, qwthn, lora)


def test_qtha_default_matches_the_authors_equations(table):
    module, result = table
    expected = LAYERS * (qtha_abc_params(HIDDEN, HIDDEN) + qtha_abc_params(HIDDEN, KV_WIDTH))
    assert result["counts"][module.QTHA_DEFAULT][MODEL] == expected
    assert result["breakdown"][MODEL]["total"] == expected
    per_layer = result["breakdown"][MODEL]["per_layer"]
    assert per_layer["q_proj"]["circuit"] == per_layer["v_proj"]["circuit"] == 4 * 4 * 4
    assert per_layer["v_proj"]["MPO_B"] == mpo_params(mpo_modes(256, 4), mpo_modes(KV_WIDTH, 4))


@pytest.mark.slow
def test_smoke_run_exits_cleanly():
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "| LoRA r=4 |" in completed.stdout
