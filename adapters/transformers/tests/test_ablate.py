"""`qwthn ablate` in smoke mode: every arm trains, the report has its parts, finished units are never re-run."""

from __future__ import annotations

import json

import pytest

from qwthn.errors import QwthnError
from qwthn_transformers.ablation import runner
from qwthn_transformers.ablation.arms import SMOKE_ARMS
from qwthn_transformers.ablation.runner import AblationOptions, run_ablation
from qwthn_transformers.embedded import base_model


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "ablate-cache"))


def smoke(output, **overrides) -> AblationOptions:
    settings = {"smoke": True, "seeds": 1, "lr_multipliers": (1.0,), "noise_sweep": False, **overrides}
    return AblationOptions(output=output, **settings)


def test_smoke_ablation_trains_every_arm_and_writes_the_report(cache, tmp_path):
    report = run_ablation(smoke(tmp_path / "ab", seeds=2))
    out = tmp_path / "ab"
    assert {p.name for p in out.iterdir()} >= {"report.md", "report.json", "test_metric.png", "loss_curves.png",
                                               "ablation.json", "runs"}  # fmt: skip
    summary = report["summary"]
    assert set(summary) == set(SMOKE_ARMS)
    for arm in SMOKE_ARMS:
        for path in (out / "runs" / arm).glob("*/result.json"):
            unit = json.loads(path.read_text())
            if unit["losses"]:  # trained units: the loss went down
                assert sum(unit["losses"][-2:]) < sum(unit["losses"][:2]), (arm, unit["losses"])
    lora, matched = summary["lora-r4"], summary["lora-matched-qwthn"]
    assert abs(matched["trainable_params"] - summary["qwthn"]["trainable_params"]) <= 0.05 * summary["qwthn"][
        "trainable_params"] and matched["trainable_params"] != lora["trainable_params"]  # fmt: skip
    dequantized = summary["qwthn-dequantized"]
    assert dequantized["max_abs_difference"] < 1e-5
    assert dequantized["validation_loss"][0] == pytest.approx(summary["qwthn"]["validation_loss"][0], abs=1e-4)
    text = (out / "report.md").read_text()
    for part in (
        "## Verdict",
        "## Arms",
        "## Comparisons",
        "## The dequantized QNN",
        "cannot show a quantum advantage",
    ):
        assert part in text
    assert any(c["control"] == "qwthn-no-qnn" for c in report["comparisons"])
    assert report["verdict"] and all(isinstance(line, str) for line in report["verdict"])


def test_a_rerun_resumes_without_training_again(cache, tmp_path, monkeypatch):
    options = smoke(tmp_path / "ab", arms=["lora-r4", "qwthn", "qwthn-dequantized"])
    first = run_ablation(options)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished unit was trained again")

    monkeypatch.setattr(runner, "train_unit", refuse)
    monkeypatch.setattr(runner, "dequantized_unit", refuse)
    second = run_ablation(options)
    assert second["summary"] == first["summary"]


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"arms": ["nosuch"]}, "unknown arm 'nosuch'"),
        ({"arms": ["qwthn-dequantized"]}, "built from arm 'qwthn'"),
        ({"arms": ["lora-matched-lora-r4"]}, "matched LoRA exists for"),
        ({"seeds": 0}, "--seeds must be at least 1"),
        ({"lr_multipliers": (1.0, -2.0)}, "--lr-multipliers must be positive"),
        ({"steps": 0}, "--steps must be at least 1"),
    ],
)
def test_bad_options_fail_before_any_model_loads(tmp_path, monkeypatch, overrides, fragment):
    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(QwthnError, match=fragment.replace("-", r"\-")):
        run_ablation(smoke(tmp_path / "ab", **overrides))
    assert not (tmp_path / "cache").exists() and not (tmp_path / "ab").exists()


def test_other_settings_on_an_existing_ablation_are_refused(cache, tmp_path):
    run_ablation(smoke(tmp_path / "ab", arms=["lora-r4"]))
    with pytest.raises(QwthnError, match="other settings"):
        run_ablation(smoke(tmp_path / "ab", arms=["lora-r4"], steps=3))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(QwthnError, match="holds no ablation"):
        run_ablation(smoke(tmp_path / "other"))


def test_the_minilm_task_runs_on_the_real_pretrained_encoder(tmp_path):
    report = run_ablation(smoke(tmp_path / "mini", task="minilm", arms=["lora-r4", "qwthn", "qwthn-dequantized"]))
    summary = report["summary"]
    assert report["metric"] == "accuracy" and "MiniLM" in report["task"]
    assert 0.0 <= summary["qwthn"]["test_metric"][0] <= 1.0
    # the adapter sits on BERT's attention maps (query, value): 6 layers x 2 targets
    assert summary["qwthn-dequantized"]["max_abs_difference"] < 1e-5
    assert summary["qwthn-dequantized"]["validation_loss"][0] == pytest.approx(
        summary["qwthn"]["validation_loss"][0], abs=1e-4
    )
    config = json.loads((tmp_path / "mini" / "runs" / "qwthn" / "seed0-lr0.02" / "adapter" / "adapter_config.json")
                        .read_text())  # fmt: skip
    assert config["target_modules"] == ["query", "value"]


def test_the_vader_words_are_human_labelled_and_both_classes_are_present():
    from qwthn_transformers.ablation.tasks import vader_words

    words = vader_words()
    labels = [label for _, label in words]
    assert len(words) > 5000 and 0.3 < sum(labels) / len(labels) < 0.7
    assert ("good", 1) in words and ("awful", 0) in words
