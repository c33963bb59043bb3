"""Runs the ablation: each arm's rate search, its seeds at the chosen rate, each unit written once, never re-run.

A unit (arm x seed x learning rate) writes one JSON file (atomically) beside its saved adapter, so an
interrupted run resumes where it stopped: rerun the same command. Settings (the tuning protocol
included) are fixed in `ablation.json`; a rerun with different ones is refused instead of mixing
results. With `ray` set, each stage's units not yet on disk run as Ray tasks (`cluster.py`), through
the same `run_unit`; the rest is unchanged.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import ExitStack

from rich.console import Console

from qwthn.console import make_console
from qwthn.methods.loading import parse_adapter_config
from qwthn.model.persistence import load_adapter
from qwthn.plugins import host
from qwthn.runtime import RuntimeConfig
from qwthn_transformers.ablation.arms import Arm
from qwthn_transformers.ablation.attach import adapter_for, restore
from qwthn_transformers.ablation.plan import (
    SETTINGS_NAME,
    AblationOptions,
    Plan,
    add_matched_arms,
    add_sized_arms,
    plan,
    requested_arms,
    result_path,
    test_path,
    unit_dir,
)
from qwthn_transformers.ablation.protocol import Trial, choose, next_rates, position, relabel
from qwthn_transformers.ablation.tasks import CausalLMTask
from qwthn_transformers.ablation.unit import run_unit, write_json
from qwthn_transformers.dequantize import dequantize_adapter

NOISE_SCALES = (0.0, 0.5, 1.0, 2.0)


def trials(results: list[dict]) -> list[Trial]:
    """What the protocol reads of an arm's tuning runs: rate, validation loss, divergence. No test numbers."""
    return [
        Trial(r["learning_rate"], r["validation_loss"] if r["validation_loss"] is not None else math.inf, r["diverged"])
        for r in results
    ]


def test_measures(plan_: Plan, arm: Arm, result: dict) -> dict:
    """The test metric of a chosen unit (and, on a task that has one, its robustness set), from its saved
    adapter; computed once and kept beside it."""
    output, seed, lr = plan_.options.output, result["seed"], result["learning_rate"]
    path = test_path(output, arm.name, seed, lr)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    model, tokenizer = restore(plan_.task, arm, seed, unit_dir(output, arm.name, seed, lr) / "adapter")
    measures = _measures(plan_.task, model, tokenizer)
    write_json(path, measures)
    return measures


def _measures(task, model, tokenizer) -> dict:
    measures = {"test_metric": task.test_metric(model, tokenizer)}
    if hasattr(task, "robustness"):
        measures["robustness"] = task.robustness(model, tokenizer)
    return measures


def base_measures(plan_: Plan) -> dict | None:
    """The base model's test metric and robustness before any fine-tuning (tasks with a robustness set only)."""
    if not hasattr(plan_.task, "robustness"):
        return None
    path = plan_.options.output / "base_model.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    model, tokenizer = plan_.task.load(0)
    measures = _measures(plan_.task, model, tokenizer)
    write_json(path, measures)
    return measures


def _timed_validation(task: CausalLMTask, model, tokenizer) -> tuple[float, float]:
    start = time.perf_counter()
    loss = task.validation_loss(model, tokenizer)
    return loss, time.perf_counter() - start


def surrogate_terms(task, arm: Arm) -> int | None:
    """For the RFF surrogate arm: random terms kept per read-out, so its series has about the circuit's weights."""
    if not arm.extra.get("surrogate"):
        return None
    circuit = parse_adapter_config(adapter_for(task, arm.adapter)).circuit()
    return max(1, circuit.n_weights // circuit.n_outputs - 1)


def dequantized_unit(plan_: Plan, arm: Arm, source: dict) -> dict:
    """The source arm's chosen adapter, dequantized (or its random-feature surrogate): its metric, size and speed."""
    task = plan_.task
    source_adapter = unit_dir(plan_.options.output, source["arm"], source["seed"], source["learning_rate"]) / "adapter"
    directory = unit_dir(plan_.options.output, arm.name, source["seed"], source["learning_rate"])
    keep = surrogate_terms(task, arm)
    dequantized = dequantize_adapter(source_adapter, directory / "adapter", keep_terms=keep, seed=source["seed"])
    form = "dequantized" if keep is None else (f"RFF surrogate ({dequantized['kept_terms']} of "
                                               f"{dequantized['terms_per_output']} terms)")  # fmt: skip
    quantum, tokenizer = task.load(source["seed"])
    load_adapter(quantum, source_adapter)
    task.load_extra(quantum, source_adapter)
    quantum_loss, quantum_seconds = _timed_validation(task, quantum, tokenizer)
    classical, _ = task.load(source["seed"])
    load_adapter(classical, directory / "adapter")
    task.load_extra(classical, source_adapter)
    loss, seconds = _timed_validation(task, classical, tokenizer)
    return {
        "arm": arm.name,
        "seed": source["seed"],
        "learning_rate": source["learning_rate"],
        "label": f"{source['label']} {form}",
        "trainable_params": dequantized["parameters_after"],
        "source_params": dequantized["parameters_before"],
        "losses": [],
        "train_loss": source["train_loss"],
        "validation_loss": loss,
        "diverged": None,
        "test_metric": task.test_metric(classical, tokenizer),
        "max_abs_difference": dequantized.get("surrogate_max_abs_difference", dequantized["max_abs_difference"]),
        "spectrum": dequantized["spectrum_summary"],
        "validation_loss_of_source": quantum_loss,
        "inference_seconds": seconds,
        "inference_seconds_of_source": quantum_seconds,
        "step_seconds": None,
        "peak_memory_mib": None,
    }


def noise_sweep(plan_: Plan, source: dict, console: Console) -> list[dict]:
    """The chosen `qwthn` adapter of one seed on the Wukong simulator at several noise scales, +- readout mitigation."""
    path = plan_.options.output / "noise_sweep.json"
    origin = {"seed": source["seed"], "learning_rate": source["learning_rate"]}
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("source") == origin:  # a sweep of another adapter (the choice moved on resume) is redone
            return stored["rows"]
    adapter = unit_dir(plan_.options.output, source["arm"], source["seed"], source["learning_rate"]) / "adapter"
    rows = []
    for scale in NOISE_SCALES:
        for mitigation in ("none", "readout"):
            model, tokenizer = plan_.task.load(source["seed"])
            options = {"noise_scale": scale, "mitigation": mitigation}
            load_adapter(model, adapter, RuntimeConfig(backend="wukong", backend_options=options, seed=0))
            plan_.task.load_extra(model, adapter)
            console.print(f"noise sweep: wukong noise x{scale:g}, mitigation {mitigation}", highlight=False)
            rows.append(
                {
                    "noise_scale": scale,
                    "mitigation": mitigation,
                    "test_metric": plan_.task.test_metric(model, tokenizer),
                    "validation_loss": plan_.task.validation_loss(model, tokenizer),
                }
            )
    write_json(path, {"source": origin, "rows": rows})
    return rows


Unit = tuple[Arm, int, float]


class UnitRunner:
    """Runs batches of units, here one after another or as Ray tasks, and reads back every result from disk."""

    def __init__(self, plan_: Plan, console: Console, ray: object | None) -> None:
        self.plan, self.console, self.ray = plan_, console, ray
        self.done = 0

    def run(self, units: list[Unit], stage: str) -> None:
        pending = [u for u in units if not result_path(self.plan.options.output, u[0].name, u[1], u[2]).is_file()]
        if not pending:
            return
        if self.ray is not None:
            from qwthn_transformers.ablation.cluster import run_on_ray

            run_on_ray(self.plan, pending, self.ray, self.console)  # returns with every unit on disk, or raises
            return
        for index, (arm, seed, lr) in enumerate(pending, 1):
            self.done += 1
            self.console.print(f"[{stage} {index}/{len(pending)}, unit {self.done} this run] {arm.name}, seed {seed}, "
                               f"learning rate {lr:g}", highlight=False, markup=False)  # fmt: skip
            result = run_unit(self.plan, arm, seed, lr, self.console)
            if result["diverged"]:
                self.console.print(f"  diverged: {result['diverged']}", highlight=False, markup=False)

    def read(self, arm: Arm, seed: int, lr: float) -> dict:
        """A unit's stored result, its divergence judged by the current rule (it may predate it)."""
        path = result_path(self.plan.options.output, arm.name, seed, lr)
        return relabel(json.loads(path.read_text(encoding="utf-8")))


def search_rates(runner: UnitRunner, arms: list[Arm]) -> dict[str, list[dict]]:
    """Seed 0 of every arm through the rate search, round by round (all arms' next rates run together)."""
    search = runner.plan.options.rate_search
    done: dict[str, list[dict]] = {arm.name: [] for arm in arms}
    while True:
        wanted = [(arm, 0, lr) for arm in arms for lr in next_rates(search, arm.base_lr, trials(done[arm.name]))]
        if not wanted:
            return done
        runner.run(wanted, "search")
        for arm, seed, lr in wanted:
            done[arm.name].append(runner.read(arm, seed, lr))


def run_ablation(options: AblationOptions, console: Console | None = None) -> dict:
    """Run (or resume) the protocol and write the report; returns it.

    Stage 1, the rate search: seed 0 of every arm at the rates the protocol picks (same budget for
    every arm, chosen on validation loss, diverged runs excluded). Stage 2: the other seeds at each
    arm's chosen rate. Stage 3: the test metric of the chosen units only, then the derived arms
    (dequantized), the noise sweep and the report.
    """
    from qwthn_transformers.ablation.report import write_report

    console = console or make_console()
    plan_ = plan(options)
    output = options.output
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / SETTINGS_NAME, options.settings())
    requested = requested_arms(options)
    notes = add_matched_arms(plan_, requested) + add_sized_arms(plan_, requested)
    trained = [arm for arm in plan_.arms if arm.derived_from is None]
    with ExitStack() as stack:
        ray = None
        if options.ray is not None:
            from qwthn_transformers.ablation.cluster import connected

            ray = stack.enter_context(connected(options.ray))
        runner = UnitRunner(plan_, console, ray)
        searched = search_rates(runner, trained)
        chosen = {arm.name: choose(trials(searched[arm.name])) for arm in trained}
        finals = [(arm, seed, chosen[arm.name].learning_rate) for arm in trained if chosen[arm.name]
                  for seed in range(1, options.seeds)]  # fmt: skip
        runner.run(finals, "seeds")
    results: dict[str, dict] = {}
    for arm in trained:
        pick = chosen[arm.name]
        seeds = []
        if pick is not None:
            for seed in range(options.seeds):
                unit = runner.read(arm, seed, pick.learning_rate)
                unit.update(test_measures(plan_, arm, unit) if not unit["diverged"] else {"test_metric": None})
                seeds.append(unit)
        results[arm.name] = {"search": searched[arm.name], "chosen": seeds,
                             "position": position(trials(searched[arm.name]))}  # fmt: skip
    for arm in plan_.arms:
        if arm.derived_from is None:
            continue
        units = []
        for source in results.get(arm.derived_from, {}).get("chosen", []):
            if source["diverged"]:
                continue
            path = unit_dir(output, arm.name, source["seed"], source["learning_rate"]) / "result.json"
            if not path.is_file():
                console.print(f"{arm.name}, seed {source['seed']}: dequantizing {arm.derived_from}'s chosen adapter",
                              highlight=False)  # fmt: skip
                write_json(path, dequantized_unit(plan_, arm, source))
            units.append(json.loads(path.read_text(encoding="utf-8")))
        results[arm.name] = {"search": [], "chosen": units, "position": "derived"}
    sweep = None
    qwthn_units = [u for u in results.get("qwthn", {}).get("chosen", []) if u["seed"] == 0 and not u["diverged"]]
    if options.noise_sweep and qwthn_units and "wukong" in [entry.name for entry in host.backends()]:
        sweep = noise_sweep(plan_, qwthn_units[0], console)
    return write_report(plan_, results, notes, sweep, console, base=base_measures(plan_))
