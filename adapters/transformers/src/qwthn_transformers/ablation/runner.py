"""Runs the ablation grid: every arm x seed x learning rate, each unit written once and never re-run.

A unit's result is one JSON file (written atomically) beside its saved adapter, so an interrupted
run resumes where it stopped: rerun the same command. Settings are fixed in `ablation.json`; a
rerun with different ones is refused instead of mixing results. With `ray` set, the units not yet on
disk run as Ray tasks first (`cluster.py`), through the same `run_unit`; the rest is unchanged.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
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
from qwthn_transformers.ablation.tasks import CausalLMTask, ClassificationTask, demo_task
from qwthn_transformers.dequantize import dequantize_adapter
from qwthn_transformers.embedded.base_model import BaseModelSpec
from qwthn_transformers.finetune import ensure_writable
from qwthn_transformers.inject import inject_adapter
from qwthn_transformers.persistence import load_adapter, save_adapter

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


@dataclass
class AblationOptions:
    output: Path
    task: str = "demo"
    model: str | None = None
    dataset: Path | None = None
    arms: list[str] | None = None
    seeds: int = 3
    lr_multipliers: tuple[float, ...] = (0.5, 1.0, 2.0)
    steps: int | None = None
    smoke: bool = False
    noise_sweep: bool = True
    ray: str | None = None
    """Ray address for the units (`local`, `auto`, `ray://host:10001`); None: one after another here."""

    def settings(self) -> dict:
        """What fixes the results: a resumed run must match it (where the units run does not)."""
        data = asdict(self)
        data["output"] = str(self.output)
        data["dataset"] = str(self.dataset) if self.dataset else None
        data.pop("noise_sweep")
        data.pop("ray")
        return json.loads(json.dumps(data))  # as it reads back from ablation.json


@dataclass
class Plan:
    options: AblationOptions
    task: CausalLMTask | ClassificationTask
    arms: list[Arm]
    learning_rates: dict[str, list[float]] = field(default_factory=dict)


def _check_options(options: AblationOptions) -> None:
    if options.task not in TASKS:
        raise QwthnError(f"unknown --task '{options.task}'; the tasks are: {', '.join(TASKS)}")
    if options.task == "minilm" and (options.model or options.dataset):
        raise QwthnError("--model and --dataset go with --task demo (a causal LM on prompt/response pairs)")
    if options.seeds < 1:
        raise QwthnError(f"--seeds must be at least 1, got {options.seeds}")
    if not options.lr_multipliers or any(not value > 0 for value in options.lr_multipliers):
        raise QwthnError(f"--lr-multipliers must be positive numbers, got {list(options.lr_multipliers)}")
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
        if saved != options.settings():
            changed = sorted(
                key for key in saved.keys() | options.settings().keys() if saved.get(key) != options.settings().get(key)
            )
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
            "demo",
            "tiny smoke model on a few math word problems",
            steps=options.steps or 6,
            batch_size=8,
            spec=SMOKE_SPEC,
            max_length=64,
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
    """Append `lora-matched-<arm>` for each matched arm run here; returns notes on arms that cannot be matched."""
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
        if matched is None:
            notes.append(
                f"no LoRA comes within 5% of {name}'s {target:,} parameters on this model (ranks 1-64 on "
                f"q_proj/v_proj give {counter(1, ['v_proj']):,} to {counter(64, ['q_proj', 'v_proj']):,})"
            )
        else:
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


def train_unit(plan_: Plan, arm: Arm, seed: int, lr: float, console: Console) -> dict:
    task, directory = plan_.task, unit_dir(plan_.options.output, arm.name, seed, lr)
    model, tokenizer = task.load(seed)
    torch.manual_seed(seed)
    config = parse_adapter_config(adapter_for(task, arm.adapter))
    if "seed" in type(config).model_fields:
        config = config.model_copy(update={"seed": seed})
    runtime = RuntimeConfig(shots=arm.shots, seed=seed) if config.runs_circuits else None
    report = inject_adapter(model, config, runtime)
    with MemoryWatch() as memory:
        result = task.fit(model, tokenizer, lr, seed, f"{arm.name} seed {seed} lr {lr:g}")
    validation = task.validation_loss(model, tokenizer)
    test = task.test_metric(model, tokenizer)
    save_adapter(model, directory / "adapter")
    task.save_extra(model, directory / "adapter")
    tail = max(1, len(result.losses) // 10)
    return {
        "arm": arm.name,
        "seed": seed,
        "learning_rate": lr,
        "label": config.describe(),
        "trainable_params": report.trainable_params,
        "losses": result.losses,
        "train_loss": sum(result.losses[-tail:]) / tail,
        "validation_loss": validation,
        "test_metric": test,
        "step_seconds": result.seconds / len(result.losses),
        "peak_memory_mib": round(memory.peak_mib, 1),
        "backend_usage": report.runtime.tracker.as_dict(),
    }


def run_unit(plan_: Plan, arm: Arm, seed: int, lr: float, console: Console) -> dict:
    """Train one unit and write its result; the one code path of the sequential run and of a Ray worker."""
    result = train_unit(plan_, arm, seed, lr, console)
    _write_json(result_path(plan_.options.output, arm.name, seed, lr), result)
    return result


def best_unit(results: list[dict]) -> dict:
    """The learning rate chosen on the validation split (never on the test split)."""
    return min(results, key=lambda result: result["validation_loss"])


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


def run_ablation(options: AblationOptions, console: Console | None = None) -> dict:
    """Run (or resume) the grid and write the report; returns it."""
    from qwthn_transformers.ablation.report import write_report

    console = console or make_console()
    plan_ = plan(options)
    output = options.output
    output.mkdir(parents=True, exist_ok=True)
    _write_json(output / SETTINGS_NAME, options.settings())
    notes = add_matched_arms(plan_, options.arms)
    results: dict[str, list[dict]] = {}
    trained = [arm for arm in plan_.arms if arm.derived_from is None]
    units = [
        (arm, seed, arm.base_lr * m) for arm in trained for seed in range(options.seeds) for m in options.lr_multipliers
    ]
    pending = [(arm, seed, lr) for arm, seed, lr in units if not result_path(output, arm.name, seed, lr).is_file()]
    if options.ray is not None and pending:
        from qwthn_transformers.ablation.cluster import run_on_ray

        run_on_ray(plan_, pending, options.ray, console)  # returns with every pending unit on disk, or raises
    for index, (arm, seed, lr) in enumerate(units, start=1):
        path = result_path(output, arm.name, seed, lr)
        if path.is_file():
            result = json.loads(path.read_text(encoding="utf-8"))
        else:
            console.print(f"[{index}/{len(units)}] {arm.name}, seed {seed}, learning rate {lr:g}", highlight=False)
            result = run_unit(plan_, arm, seed, lr, console)
        results.setdefault(arm.name, []).append(result)
    for arm in plan_.arms:
        if arm.derived_from is None:
            continue
        for seed in range(options.seeds):
            source = best_unit([r for r in results[arm.derived_from] if r["seed"] == seed])
            path = unit_dir(output, arm.name, seed, source["learning_rate"]) / "result.json"
            if not path.is_file():
                console.print(
                    f"{arm.name}, seed {seed}: dequantizing {arm.derived_from}'s chosen adapter", highlight=False
                )
                _write_json(path, dequantized_unit(plan_, arm, source))
            results.setdefault(arm.name, []).append(json.loads(path.read_text(encoding="utf-8")))
    sweep = None
    if options.noise_sweep and "qwthn" in results and "wukong" in [entry.name for entry in host.backends()]:
        sweep = noise_sweep(plan_, best_unit([r for r in results["qwthn"] if r["seed"] == 0]), console)
    return write_report(plan_, results, notes, sweep, console)
