"""`qwthn ablate` in smoke mode: every arm trains, the protocol finds rates and catches divergence, resumes."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil

import pytest
from rich.console import Console

from qwthn.errors import QwthnError
from qwthn_transformers.ablation import plan as planning
from qwthn_transformers.ablation import runner
from qwthn_transformers.ablation import unit as ablation_unit
from qwthn_transformers.ablation.arms import SMOKE_ARMS
from qwthn_transformers.ablation.protocol import RATIO_LIMIT, RateSearch
from qwthn_transformers.ablation.runner import AblationOptions, run_ablation
from qwthn_transformers.embedded import base_model

pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "ablate-cache"))


def smoke(output, **overrides) -> AblationOptions:
    settings = {"smoke": True, "seeds": 1, "search": RateSearch(2, 1.0, 0), "noise_sweep": False, **overrides}
    return AblationOptions(output=output, **settings)


def base_validation_loss(options: AblationOptions) -> float:
    """The base model's validation loss, with no adapter: what an adapter that learned nothing would score."""
    task = planning.plan(options).task
    return task.validation_loss(*task.load(0))


def with_base_rate(monkeypatch, arm: str, rate: float) -> None:
    """Centre one arm's grid at `rate` (a recipe rate set wrong on purpose)."""
    arms = tuple(dataclasses.replace(a, base_lr=rate) if a.name == arm else a for a in planning.ARMS)
    monkeypatch.setattr(planning, "ARMS", arms)


def test_an_arm_that_trains_only_at_low_rates_is_found_there_by_extending_its_grid(cache, tmp_path, monkeypatch):
    """The authors' architecture with its grid centred 1000x too high: every initial rate diverges, and the
    protocol extends the grid downwards until the arm trains, instead of reporting its diverged runs."""
    with_base_rate(monkeypatch, "qtha", 0.5)
    search = RateSearch(points=3, decades=2, extensions=3)
    options = smoke(tmp_path / "ab", arms=["qtha"], search=search)
    report = run_ablation(options)
    row = report["summary"]["qtha"]
    initial = search.initial(0.5)
    tried = {entry["learning_rate"]: entry for entry in row["search"]}
    assert len(tried) == search.budget
    assert all(tried[rate]["diverged"] for rate in initial)  # the grid it was given could not train it
    assert row["learning_rate"] < min(initial)  # found below it, by extension
    assert row["position"] == "inside" and row["test_metric"] is not None
    unit = json.loads(planning.result_path(tmp_path / "ab", "qtha", 0, row["learning_rate"]).read_text())
    assert unit["diverged"] is None and unit["max_update_ratio"] < RATIO_LIMIT
    assert unit["validation_loss"] < base_validation_loss(options) - 1e-3  # it trained: below the base model
    text = (tmp_path / "ab" / "report.md").read_text()
    (search_row,) = [line for line in text.splitlines() if line.startswith("| qtha | ") and "diverged" in line]
    trains_at, diverged_at = search_row.split(" | ")[1:3]  # the rate regions where it trains and diverges
    assert f"{row['learning_rate']:g}" in trains_at.split(", ")
    assert all(f"{rate:g}" in diverged_at for rate in initial)


def test_a_diverging_unit_is_reported_as_diverged_never_as_a_score(cache, tmp_path, monkeypatch):
    with_base_rate(monkeypatch, "lora-r4", 1.0)
    progress = io.StringIO()
    console = Console(file=progress, width=200)
    report = run_ablation(smoke(tmp_path / "ab", arms=["lora-r4"], search=RateSearch(3, 2, 0), seeds=2), console)
    assert "[search 1/3, unit 1 this run] lora-r4, seed 0" in progress.getvalue()  # progress says how far it is
    assert "[seeds 1/1, unit 4 this run] lora-r4, seed 1" in progress.getvalue()
    row = report["summary"]["lora-r4"]
    diverged = [entry for entry in row["search"] if entry["diverged"]]
    assert {entry["learning_rate"] for entry in diverged} == {1.0, 10.0}
    assert all("frozen layer's output" in entry["diverged"] for entry in diverged)
    assert row["learning_rate"] == 0.1 and row["seeds"] == 2
    for rate in (1.0, 10.0):  # never scored: no test metric was computed for them
        assert not planning.test_path(tmp_path / "ab", "lora-r4", 0, rate).exists()
    text = (tmp_path / "ab" / "report.md").read_text()
    assert "| lora-r4 | 0.1 | 1, 10 (update reached" in text


def test_an_arm_that_diverges_at_every_rate_is_named_and_has_no_score(cache, tmp_path, monkeypatch):
    with_base_rate(monkeypatch, "lora-r4", 50.0)
    report = run_ablation(smoke(tmp_path / "ab", arms=["lora-r4"], search=RateSearch(2, 1.0, 0)))
    row = report["summary"]["lora-r4"]
    assert row["status"] == "diverged at every rate tried" and row["test_metric"] is None and row["seeds"] == 0
    assert "Diverged at every rate tried (no score reported): lora-r4." in report["verdict"]


def test_smoke_ablation_trains_every_arm_and_writes_the_report(cache, tmp_path):
    options = smoke(tmp_path / "ab", seeds=2, search=None)  # the smoke run's own search: 3 rates + 1
    report = run_ablation(options)
    base = base_validation_loss(options)
    out = tmp_path / "ab"
    written = {"report.md", "report.json", "test_metric.png", "loss_curves.png", "update_ratio.png",
               "rate_search.png", "ablation.json", "runs"}  # fmt: skip
    assert {p.name for p in out.iterdir()} >= written
    summary = report["summary"]
    assert set(summary) == set(SMOKE_ARMS)
    for arm in SMOKE_ARMS:
        row = summary[arm]  # every seed is scored or listed as diverged (the tiny model's updates run large)
        assert row["seeds"] >= 1 and row["seeds"] + len(row["diverged_seeds"]) == 2, (arm, row["diverged_seeds"])
        for seed in range(2):
            if arm in ("qwthn-dequantized", "qwthn-rff") or str(seed) in row["diverged_seeds"]:
                continue
            unit = json.loads(planning.result_path(out, arm, seed, row["learning_rate"]).read_text())
            assert unit["validation_loss"] < base, (arm, seed, unit["validation_loss"], base)  # it trained
            assert unit["update_ratio"]["steps"] and unit["max_update_ratio"] == max(
                unit["update_ratio"]["max_over_layers"])  # fmt: skip
    assert {row["question"] for row in report["comparisons"]} >= {"our QNN vs no QNN (MPO maps only)"}
    lora, matched = summary["lora-r4"], summary["lora-matched-qwthn"]
    assert abs(matched["trainable_params"] - summary["qwthn"]["trainable_params"]) <= 0.05 * summary["qwthn"][
        "trainable_params"] and matched["trainable_params"] != lora["trainable_params"]  # fmt: skip
    dequantized = summary["qwthn-dequantized"]
    assert dequantized["max_abs_difference"] < 1e-5
    assert dequantized["validation_loss"][0] == pytest.approx(summary["qwthn"]["validation_loss"][0], abs=1e-4)
    surrogate = summary["qwthn-rff"]  # a smaller, approximate classical copy of each trained circuit
    assert "RFF surrogate" in surrogate["label"] and surrogate["max_abs_difference"] > 1e-4
    assert surrogate["trainable_params"] < dequantized["trainable_params"]
    text = (out / "report.md").read_text()
    for part in (
        "## Verdict",
        "## Arms",
        "## Rate search (seed 0)",
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

    monkeypatch.setattr(ablation_unit, "train_unit", refuse)
    monkeypatch.setattr(runner, "dequantized_unit", refuse)
    second = run_ablation(options)
    assert second["summary"] == first["summary"]


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"arms": ["nosuch"]}, "unknown arm 'nosuch'"),
        ({"arms": ["qwthn-dequantized"]}, "built from arm 'qwthn'"),
        ({"arms": ["lora-matched-lora-r4"]}, "unknown arm 'lora-matched-lora-r4'"),
        ({"seeds": 0}, "--seeds must be at least 1"),
        ({"search": RateSearch(1, 1.0, 0)}, "--grid-points must be at least 2"),
        ({"smoke": False, "search": RateSearch(3, 2.0, 0)}, "below the protocol's minimum"),
        ({"model": "some/model"}, "--smoke runs its own tiny base model"),
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
    (tmp_path / "old").mkdir()  # a directory of the first protocol (learning-rate multipliers, no divergence check)
    (tmp_path / "old" / planning.SETTINGS_NAME).write_text(json.dumps({"lr_multipliers": [0.5, 1.0], "seeds": 3}))
    with pytest.raises(QwthnError, match="earlier tuning protocol .* pass a new --output"):
        run_ablation(smoke(tmp_path / "old"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(QwthnError, match="holds no ablation"):
        run_ablation(smoke(tmp_path / "other"))


def test_more_seeds_on_resume_add_units_at_the_chosen_rate_and_rerun_nothing(cache, tmp_path):
    """An arm left with too few paired seeds (one diverged) gets more without redoing its search."""
    first = run_ablation(smoke(tmp_path / "ab", arms=["lora-r4"], seeds=1))
    written = {path: path.stat().st_mtime_ns for path in (tmp_path / "ab" / "runs").rglob("*.json")}
    second = run_ablation(smoke(tmp_path / "ab", arms=["lora-r4"], seeds=2))
    assert all(path.stat().st_mtime_ns == stamp for path, stamp in written.items())  # nothing re-run
    row = second["summary"]["lora-r4"]
    assert row["seeds"] == 2 and row["learning_rate"] == first["summary"]["lora-r4"]["learning_rate"]
    assert json.loads((tmp_path / "ab" / planning.SETTINGS_NAME).read_text())["seeds"] == 2


def test_a_run_directory_moved_elsewhere_resumes_there_and_reruns_nothing(cache, tmp_path):
    """A partial run committed to a repository or carried to another machine resumes at its new path."""
    first = run_ablation(smoke(tmp_path / "ab", arms=["lora-r4"], seeds=1))
    shutil.copytree(tmp_path / "ab", tmp_path / "moved")
    shutil.rmtree(tmp_path / "ab")
    written = {path: path.stat().st_mtime_ns for path in (tmp_path / "moved" / "runs").rglob("*.json")}
    second = run_ablation(smoke(tmp_path / "moved", arms=["lora-r4"], seeds=1))
    assert all(path.stat().st_mtime_ns == stamp for path, stamp in written.items())  # nothing re-run
    assert second["summary"]["lora-r4"]["test_metric"] == first["summary"]["lora-r4"]["test_metric"]


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
    rate = summary["qwthn"]["learning_rate"]
    config = json.loads((tmp_path / "mini" / "runs" / "qwthn" / f"seed0-lr{rate:g}" / "adapter" / "adapter_config.json")
                        .read_text())  # fmt: skip
    assert config["target_modules"] == ["query", "value"]


def test_the_vader_words_are_human_labelled_and_both_classes_are_present():
    from qwthn_transformers.ablation.tasks import vader_words

    words = vader_words()
    labels = [label for _, label in words]
    assert len(words) > 5000 and 0.3 < sum(labels) / len(labels) < 0.7
    assert ("good", 1) in words and ("awful", 0) in words


def test_smoke_with_a_dataset_trains_the_tiny_model_on_that_dataset(cache, tmp_path):
    """--smoke --dataset was once ignored while ablation.json recorded it as used: now the file is what trains."""
    lines = [json.dumps({"prompt": f"copy: {word} =", "response": word}) for word in ("ab", "cd", "ef", "gh") * 1]
    lines += [json.dumps({"prompt": f"echo {i} =", "response": str(i)}) for i in range(30)]
    data = tmp_path / "mine.jsonl"
    data.write_text("\n".join(lines) + "\n")
    report = run_ablation(smoke(tmp_path / "ab", arms=["lora-r4"], dataset=data))
    assert "mine.jsonl" in report["task"]
    task = planning.plan(smoke(tmp_path / "ab", arms=["lora-r4"], dataset=data)).task
    train_set, validation, test = task.splits()
    assert len(train_set) + len(validation) + len(test) == 34 and all("=" in e.prompt for e in test)
