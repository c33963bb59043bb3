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
import os
import shutil
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from rich.console import Console

from qwthn.console import make_console
from qwthn.errors import QwthnError
from qwthn.files import write_json_atomically
from qwthn.methods.loading import parse_adapter_config
from qwthn.plugins import host
from qwthn.runtime import RuntimeConfig
from qwthn_transformers.ablation.arms import ARMS, MATCHED, SMOKE_ARMS, Arm, matched_lora, select
from qwthn_transformers.ablation.protocol import RateSearch, Trial, choose, divergence, next_rates, position
from qwthn_transformers.ablation.tasks import HEAD_LEARNING_RATE, CausalLMTask, ClassificationTask, demo_task
from qwthn_transformers.dequantize import dequantize_adapter
from qwthn_transformers.embedded.base_model import BaseModelSpec
from qwthn_transformers.finetune import ensure_writable
from qwthn_transformers.inject import inject_adapter
from qwthn_transformers.persistence import load_adapter, save_adapter
from qwthn_transformers.train import TrainingDiverged
from qwthn_transformers.update_ratio import UpdateRatioMonitor

SETTINGS_NAME = "ablation.json"
TASKS = ("demo", "minilm")
NOISE_SCALES = (0.0, 0.5, 1.0, 2.0)
SMOKE_SPEC = BaseModelSpec(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    vocab_size=320,
    block_size=32,
    batch_size=4,
    steps=10,
    held_out=12,
    task_train=60,
)


PROTOCOL = 2

RESUMABLE_CHANGES = frozenset({"seeds"})
"""Settings a resumed ablation may change: more --seeds add units at the chosen rates (seed k is the same unit
whatever the count), fewer report the first ones; the search and every written unit stay valid."""
"""Version of the tuning protocol (protocol.py): results of another version are never mixed into a directory."""
SMOKE_SEARCH = RateSearch(points=3, decades=2.0, extensions=1)
"""The smoke run's grid: below the protocol's minimum, allowed only with --smoke (which checks the pipeline)."""


@dataclass
class AblationOptions:
    output: Path
    task: str = "demo"
    model: str | None = None
    dataset: Path | None = None
    arms: list[str] | None = None
    seeds: int = 3
    search: RateSearch | None = None
    """The rate search every arm gets (None: `RateSearch()`, or `SMOKE_SEARCH` with `smoke`)."""
    steps: int | None = None
    smoke: bool = False
    noise_sweep: bool = True
    ray: str | None = None
    """Ray address for the units (`local`, `auto`, `ray://host:10001`); None: one after another here."""

    @property
    def rate_search(self) -> RateSearch:
        return self.search or (SMOKE_SEARCH if self.smoke else RateSearch())

    def settings(self) -> dict:
        """What fixes the results: a resumed run must match it (where the units run does not)."""
        data = asdict(self)
        data["output"] = str(self.output)
        data["dataset"] = str(self.dataset) if self.dataset else None
        data["search"] = self.rate_search.as_dict()
        data["protocol"] = PROTOCOL
        data["head_learning_rate"] = HEAD_LEARNING_RATE if self.task == "minilm" else None
        data.pop("noise_sweep")
        data.pop("ray")
        return json.loads(json.dumps(data))  # as it reads back from ablation.json


@dataclass
class Plan:
    options: AblationOptions
    task: CausalLMTask | ClassificationTask
    arms: list[Arm]


def _check_options(options: AblationOptions) -> None:
    if options.task not in TASKS:
        raise QwthnError(f"unknown --task '{options.task}'; the tasks are: {', '.join(TASKS)}")
    if options.task == "minilm" and (options.model or options.dataset):
        raise QwthnError("--model and --dataset go with --task demo (a causal LM on prompt/response pairs)")
    if options.smoke and options.model:
        raise QwthnError("--smoke runs its own tiny base model; drop --model, or drop --smoke")
    if options.seeds < 1:
        raise QwthnError(f"--seeds must be at least 1, got {options.seeds}")
    options.rate_search.check(smoke=options.smoke)
    if options.steps is not None and options.steps < 1:
        raise QwthnError(f"--steps must be at least 1, got {options.steps}")
    if options.dataset is not None and not options.dataset.is_file():
        raise QwthnError(f"dataset file {options.dataset} does not exist; pass a JSONL file of prompt/response lines")
    if options.ray is not None:
        from qwthn_transformers.ablation.cluster import check_address

        check_address(options.ray)
    output = options.output
    if output.exists() and not output.is_dir():
        raise QwthnError(f"output {output} is a file; pass a directory for --output")
    settings_file = output / SETTINGS_NAME
    if output.is_dir() and any(output.iterdir()):
        if not settings_file.is_file():
            raise QwthnError(f"output {output} is not empty and holds no ablation; pass a new --output")
        saved = json.loads(settings_file.read_text(encoding="utf-8"))
        if saved.get("protocol") != PROTOCOL:
            raise QwthnError(
                f"output {output} holds an ablation made with an earlier tuning protocol (learning-rate multipliers, "
                "no divergence check); its results cannot be mixed with this one's: pass a new --output"
            )
        wanted = options.settings()
        changed = sorted(key for key in saved.keys() | wanted.keys()
                         if key not in RESUMABLE_CHANGES and saved.get(key) != wanted.get(key))  # fmt: skip
        if changed:
            raise QwthnError(
                f"output {output} holds an ablation with other settings ({', '.join(changed)}); rerun with "
                "the same options to resume, or pass a new --output"
            )
    ensure_writable(output, "--output")


def plan(options: AblationOptions) -> Plan:
    """Check everything before any model is loaded."""
    _check_options(options)
    names = options.arms if options.arms is not None else (list(SMOKE_ARMS) if options.smoke else None)
    static = [name for name in names if not name.startswith("lora-matched-")] if names else None
    arms = select(list(ARMS), static)
    for name in names or []:
        if name.startswith("lora-matched-") and name.removeprefix("lora-matched-") not in MATCHED:
            raise QwthnError(f"unknown arm {name!r}; matched LoRA exists for: {', '.join(MATCHED)}")
    for arm in arms:
        parse_adapter_config(arm.adapter, source=f"arm {arm.name}")
    if options.task == "minilm":
        task = ClassificationTask(steps=options.steps or (6 if options.smoke else 300))
        task.splits()  # the labelled words: fails now, not after training, when the package is missing
        from qwthn_transformers.ablation.tasks import minilm_path

        minilm_path()
    elif options.smoke:
        task = CausalLMTask(
            "demo" if options.dataset is None else "dataset",
            f"tiny smoke model on {options.dataset or 'a few math word problems'}",
            steps=options.steps or 6,
            batch_size=8,
            spec=SMOKE_SPEC,
            max_length=64,
            dataset=options.dataset,
        )
    else:
        task = demo_task(steps=options.steps, model=options.model, dataset=options.dataset)
    return Plan(options, task, arms)


def adapter_for(task, adapter: dict) -> dict:
    """The arm's adapter with the default target names mapped onto this task's model."""
    if not task.targets:
        return dict(adapter)
    targets = adapter.get("target_modules", ["q_proj", "v_proj"])
    return {**adapter, "target_modules": [task.targets.get(name, name) for name in targets]}


def _lora_counter(task):
    def count(r: int, targets: list[str]) -> int:
        model, _ = task.load()
        config = parse_adapter_config(adapter_for(task, {"method": "lora", "r": r, "target_modules": targets}))
        return inject_adapter(model, config).trainable_params

    return count


def add_matched_arms(plan_: Plan, requested: list[str] | None) -> list[str]:
    """Append `lora-matched-<arm>` for each matched arm run here; returns notes on size gaps (never a dropped row)."""
    notes = []
    wanted = [name for name in MATCHED if any(arm.name == name for arm in plan_.arms)]
    if requested is not None:
        wanted = [name for name in wanted if f"lora-matched-{name}" in requested]
    counter = _lora_counter(plan_.task)
    for name in wanted:
        arm = next(arm for arm in plan_.arms if arm.name == name)
        model, _ = plan_.task.load()
        target = inject_adapter(model, parse_adapter_config(adapter_for(plan_.task, arm.adapter))).trainable_params
        matched = matched_lora(name, target, counter)
        if "size_gap" in matched.extra:
            notes.append(
                f"no LoRA comes within 5% of {name}'s {target:,} parameters on this model (ranks 1-64 on "
                f"q_proj/v_proj give {counter(1, ['v_proj']):,} to {counter(64, ['q_proj', 'v_proj']):,}); "
                f"{matched.name} is the nearest, {matched.extra['size_gap']} in size"
            )
        plan_.arms.append(matched)
    return notes


class MemoryWatch:
    """Peak resident memory (MiB) above the level at entry, sampled from /proc every 20 ms."""

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> float:
        try:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0.0
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _poll(self, start: float) -> None:
        while not self._stop.wait(0.02):
            self.peak_mib = max(self.peak_mib, self._rss() - start)

    def __enter__(self) -> MemoryWatch:
        self._thread = threading.Thread(target=self._poll, args=(self._rss(),), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, data)


def unit_dir(output: Path, arm: str, seed: int, lr: float) -> Path:
    return output / "runs" / arm / f"seed{seed}-lr{lr:g}"


def result_path(output: Path, arm: str, seed: int, lr: float) -> Path:
    """A unit's result, written last and atomically: its presence is what marks the unit done."""
    return unit_dir(output, arm, seed, lr) / "result.json"


def test_path(output: Path, arm: str, seed: int, lr: float) -> Path:
    """The test metric of a reported unit, written once the protocol has chosen it (never before)."""
    return unit_dir(output, arm, seed, lr) / "test.json"


def _runtime(arm: Arm, config, seed: int) -> RuntimeConfig | None:
    return RuntimeConfig(shots=arm.shots, seed=seed) if config.runs_circuits else None


def train_unit(plan_: Plan, arm: Arm, seed: int, lr: float, console: Console) -> dict:
    """Train one (arm, seed, rate) unit and measure it on the validation split; the test split is not touched."""
    task, directory = plan_.task, unit_dir(plan_.options.output, arm.name, seed, lr)
    if directory.exists():  # a unit interrupted before its result was written: start it afresh
        shutil.rmtree(directory)
    model, tokenizer = task.load(seed)
    torch.manual_seed(seed)
    config = parse_adapter_config(adapter_for(task, arm.adapter))
    if "seed" in type(config).model_fields:
        config = config.model_copy(update={"seed": seed})
    report = inject_adapter(model, config, _runtime(arm, config, seed))
    monitor = UpdateRatioMonitor(model, every=max(1, task.steps // 50))
    nonfinite, losses, seconds = None, [], 0.0
    with MemoryWatch() as memory:
        try:
            result = task.fit(model, tokenizer, lr, seed, f"{arm.name} seed {seed} lr {lr:g}", monitor)
            losses, seconds = result.losses, result.seconds
        except TrainingDiverged as error:
            nonfinite = str(error).split(": ", 1)[-1].split(";")[0]
    diverged = divergence(losses, monitor.max_ratio(), nonfinite)
    validation = task.validation_loss(model, tokenizer) if nonfinite is None else None
    if validation is not None and not math.isfinite(validation):
        diverged, validation = diverged or "validation loss is not finite", None
    if nonfinite is None:
        save_adapter(model, directory / "adapter")
        task.save_extra(model, directory / "adapter")
    tail = max(1, len(losses) // 10)
    return {
        "arm": arm.name,
        "seed": seed,
        "learning_rate": lr,
        "label": config.describe(),
        "trainable_params": report.trainable_params,
        "losses": losses,
        "train_loss": sum(losses[-tail:]) / tail if losses else None,
        "validation_loss": validation,
        "diverged": diverged,
        "max_update_ratio": monitor.max_ratio(),
        "update_ratio": monitor.trajectory(),
        "step_seconds": seconds / len(losses) if losses else None,
        "peak_memory_mib": round(memory.peak_mib, 1),
        "backend_usage": report.runtime.tracker.as_dict(),
    }


def run_unit(plan_: Plan, arm: Arm, seed: int, lr: float, console: Console) -> dict:
    """Train one unit and write its result; the one code path of the sequential run and of a Ray worker."""
    result = train_unit(plan_, arm, seed, lr, console)
    _write_json(result_path(plan_.options.output, arm.name, seed, lr), result)
    return result


def trials(results: list[dict]) -> list[Trial]:
    """What the protocol reads of an arm's tuning runs: rate, validation loss, divergence. No test numbers."""
    return [
        Trial(r["learning_rate"], r["validation_loss"] if r["validation_loss"] is not None else math.inf, r["diverged"])
        for r in results
    ]


def test_metric(plan_: Plan, arm: Arm, result: dict) -> float:
    """The test metric of a chosen unit, from its saved adapter; computed once and kept beside it."""
    output, seed, lr = plan_.options.output, result["seed"], result["learning_rate"]
    path = test_path(output, arm.name, seed, lr)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))["test_metric"]
    adapter = unit_dir(output, arm.name, seed, lr) / "adapter"
    model, tokenizer = plan_.task.load(seed)
    config = parse_adapter_config(adapter_for(plan_.task, arm.adapter))
    load_adapter(model, adapter, _runtime(arm, config, seed))
    plan_.task.load_extra(model, adapter)
    value = plan_.task.test_metric(model, tokenizer)
    _write_json(path, {"test_metric": value})
    return value


def _timed_validation(task: CausalLMTask, model, tokenizer) -> tuple[float, float]:
    start = time.perf_counter()
    loss = task.validation_loss(model, tokenizer)
    return loss, time.perf_counter() - start


def dequantized_unit(plan_: Plan, arm: Arm, source: dict) -> dict:
    """The source arm's chosen adapter, dequantized: same metric expected; its size and inference speed."""
    task = plan_.task
    source_adapter = unit_dir(plan_.options.output, source["arm"], source["seed"], source["learning_rate"]) / "adapter"
    directory = unit_dir(plan_.options.output, arm.name, source["seed"], source["learning_rate"])
    dequantized = dequantize_adapter(source_adapter, directory / "adapter")
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
        "label": f"{source['label']} dequantized",
        "trainable_params": dequantized["parameters_after"],
        "source_params": dequantized["parameters_before"],
        "losses": [],
        "train_loss": source["train_loss"],
        "validation_loss": loss,
        "diverged": None,
        "test_metric": task.test_metric(classical, tokenizer),
        "max_abs_difference": dequantized["max_abs_difference"],
        "validation_loss_of_source": quantum_loss,
        "inference_seconds": seconds,
        "inference_seconds_of_source": quantum_seconds,
        "step_seconds": None,
        "peak_memory_mib": None,
    }


def noise_sweep(plan_: Plan, source: dict, console: Console) -> list[dict]:
    """The chosen `qwthn` adapter of one seed on the Wukong simulator at several noise scales, +- readout mitigation."""
    path = plan_.options.output / "noise_sweep.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))["rows"]
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
    _write_json(path, {"rows": rows})
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
        for arm, seed, lr in pending:
            self.done += 1
            self.console.print(f"[{stage} {self.done}] {arm.name}, seed {seed}, learning rate {lr:g}", highlight=False)
            result = run_unit(self.plan, arm, seed, lr, self.console)
            if result["diverged"]:
                self.console.print(f"  diverged: {result['diverged']}", highlight=False, markup=False)

    def read(self, arm: Arm, seed: int, lr: float) -> dict:
        return json.loads(result_path(self.plan.options.output, arm.name, seed, lr).read_text(encoding="utf-8"))


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
    _write_json(output / SETTINGS_NAME, options.settings())
    notes = add_matched_arms(plan_, options.arms)
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
                unit["test_metric"] = test_metric(plan_, arm, unit) if not unit["diverged"] else None
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
                _write_json(path, dequantized_unit(plan_, arm, source))
            units.append(json.loads(path.read_text(encoding="utf-8")))
        results[arm.name] = {"search": [], "chosen": units, "position": "derived"}
    sweep = None
    qwthn_units = [u for u in results.get("qwthn", {}).get("chosen", []) if u["seed"] == 0 and not u["diverged"]]
    if options.noise_sweep and qwthn_units and "wukong" in [entry.name for entry in host.backends()]:
        sweep = noise_sweep(plan_, qwthn_units[0], console)
    return write_report(plan_, results, notes, sweep, console)
