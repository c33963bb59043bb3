"""`qwthn finetune`: fine-tune QWTHN and/or LoRA on one base model and compare them on held-out data.

With no options this is the offline demo: the embedded tiny Qwen2 (pre-trained and cached on first
use) learns the built-in math word problems. Every user input is validated before any model is
loaded or trained, so a typo costs a second, not a pre-training run.

Started by torchrun or accelerate launch on several processes, it trains data-parallel with the
same global batch (distributed.py); rank 0 alone evaluates and writes the run directory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from qwthn.cli_runtime import RuntimeFlags, create_backend
from qwthn.console import make_console, warn
from qwthn.contract.backend import QuantumBackend
from qwthn.errors import QwthnError
from qwthn.files import check_writable, write_json_atomically, write_text_atomically
from qwthn.methods.base import AdapterConfig
from qwthn.methods.loading import load_adapter_config
from qwthn.methods.lora import LoRAConfig
from qwthn.methods.qwthn import QWTHNConfig
from qwthn.model.checkpoint import CHECKPOINT_NAME, Checkpoint
from qwthn.model.inject import (
    InjectionReport,
    adapter_layers,
    check_adapter_on_backend,
    count_parameters,
    inject_adapter,
)
from qwthn.model.persistence import (
    WEIGHTS_NAME,
    load_adapter,
    read_adapter_config,
    read_adapter_weights,
    save_adapter,
)
from qwthn.plugins import host
from qwthn.runtime import Runtime, RuntimeConfig
from qwthn.runtime.tracker import Tracker
from qwthn.validation import check_seed
from qwthn_transformers import gguf
from qwthn_transformers.data import Example, deduplicate, encode_example, load_jsonl, split_examples, truncated
from qwthn_transformers.distributed import ONE_PROCESS, Processes
from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded.base_model import BaseModelSpec, cache_path, load_or_pretrain
from qwthn_transformers.evaluate import exact_match
from qwthn_transformers.loading import (
    check_model_path,
    load_causal_lm,
    local_model_path,
    quiet_progress_off_terminal,
)
from qwthn_transformers.train import TrainSettings, check_steps, example_batches, train

DEFAULT_METHODS = ("qwthn", "lora")
"""What runs when --method is left out: the comparison the paper makes."""
FORWARD_ONLY_SHOTS = 1000
"""Shots per circuit row in forward-only mode when --shots is not given: what the QTHA authors ran on their chip."""
HELD_OUT_FRACTION = 0.1
SPLIT_SEED = 0
"""User datasets are split with a fixed seed, so runs with different --seed share one held-out set."""
DEFAULT_CHECKPOINT_EVERY = 50
"""Steps between checkpoints: a few seconds of adapter-sized writes per thousand steps."""
RESULT_SUFFIX = "result.json"
STATE_DIR = "state"
"""Inside a run directory while it runs: the options, the base evaluation, checkpoints and finished results."""
RESUMABLE_OPTIONS = ("model", "dataset", "backend", "backend_options", "shots", "device", "timeout", "retries",
                     "method", "config", "seed", "max_steps", "forward_only", "init_adapter", "checkpoint_every",
                     "trust_remote_code")  # fmt: skip


@dataclass(kw_only=True)
class FinetuneOptions(RuntimeFlags):
    """What `qwthn finetune` accepts (the runtime flags included); None means the embedded default."""

    model: str | None = None
    dataset: Path | None = None
    method: str | None = None
    config: Path | None = None
    output: Path | None = None
    seed: int = 0
    max_steps: int | None = None
    dry_run: bool = False
    forward_only: bool = False
    init_adapter: Path | None = None
    checkpoint_every: int | None = None
    resume: Path | None = None
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        for name in ("model", "backend", "dataset", "config", "output", "init_adapter", "resume"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.strip():  # Path('') is '.', silently a directory
                raise QwthnError(f"{_flag(name)} is empty; give it a value, or leave it out for its default")
        for name in ("dataset", "config", "output", "init_adapter", "resume"):
            if isinstance(getattr(self, name), str):
                setattr(self, name, Path(getattr(self, name)))


@dataclass(frozen=True)
class MethodRecipe:
    """An adapter config plus how to train it."""

    adapter: AdapterConfig
    steps: int
    learning_rate: float
    batch_size: int


@dataclass(frozen=True)
class Recipe:
    """Training defaults for one kind of run; `base` is the embedded model (ignored with --model)."""

    methods: dict[str, MethodRecipe]
    max_length: int
    note: str
    base: BaseModelSpec = field(default_factory=BaseModelSpec)

    def method(self, name: str) -> MethodRecipe:
        """This recipe's settings for `name`; a registered method it does not list gets its defaults."""
        if name in self.methods:
            return self.methods[name]
        generic = next(iter(self.methods.values()))
        config = host.methods.get(name).config_class()
        return MethodRecipe(config, generic.steps, generic.learning_rate, generic.batch_size)


EMBEDDED_RECIPE = Recipe(
    methods={
        "qwthn": MethodRecipe(QWTHNConfig(scale=4.0), steps=800, learning_rate=2e-2, batch_size=64),
        "lora": MethodRecipe(LoRAConfig(r=4, alpha=32.0), steps=800, learning_rate=1e-2, batch_size=64),
    },
    max_length=256,
    note=(
        "embedded demo, tuned by measurement for a ~1 minute fine-tuning budget per adapter: with the library "
        "defaults (QWTHN scale 1, LoRA alpha/r 2) both adapters learned markedly slower in 800 steps, so the "
        "update scales are raised (QWTHN scale 4, LoRA alpha/r 8) with high learning rates (QWTHN 2e-2, LoRA "
        "1e-2; QWTHN diverged at 3e-2); the QWTHN circuit and MPOs keep the library defaults (4 qubits, 2 "
        "layers, weighted fusion, bond dimension 4)"
    ),
)
GENERIC_RECIPE = Recipe(
    methods={
        "qwthn": MethodRecipe(QWTHNConfig(), steps=200, learning_rate=1e-3, batch_size=8),
        "lora": MethodRecipe(LoRAConfig(), steps=200, learning_rate=1e-3, batch_size=8),
    },
    max_length=512,
    note="library default adapter configs with conservative training settings for pre-trained LLMs",
)


@dataclass(frozen=True)
class RunPlan:
    """Validated options: everything decided before the first model is loaded."""

    methods: dict[str, MethodRecipe]
    runtime: RuntimeConfig
    backend: QuantumBackend
    """The run's one backend instance, shared by every circuit method (circuit-free ones need none)."""
    output: Path
    dataset: list[Example] | None
    recipe: Recipe
    options: FinetuneOptions
    init_adapter: Path | None = None
    processes: Processes = ONE_PROCESS

    @property
    def state(self) -> Path:
        return self.output / STATE_DIR


def _resolve_runtime(options: FinetuneOptions) -> tuple[RuntimeConfig, QuantumBackend]:
    """Where the circuits run, and the run's one backend instance: a bad name or option fails before any model loads."""
    runtime = options.runtime_config(seed=options.seed, dry_run=options.dry_run, forward_only=options.forward_only)
    backend = create_backend(runtime)
    if options.forward_only and runtime.shots is None and backend.capabilities.supports_shots:
        runtime = runtime.model_copy(update={"shots": FORWARD_ONLY_SHOTS})
    return runtime, backend


def _resolve_methods(options: FinetuneOptions, recipe: Recipe) -> dict[str, MethodRecipe]:
    known = host.methods.names()
    if options.method is not None and options.method not in known:
        raise QwthnError(
            f"unknown --method '{options.method}'; use one of {', '.join(known)} (or leave it out to compare "
            f"{' and '.join(DEFAULT_METHODS)})"
        )
    if options.max_steps is not None:
        check_steps(options.max_steps, "--max-steps")
    override = load_adapter_config(options.config) if options.config is not None else None
    if override is not None and options.method not in (None, override.method):
        raise QwthnError(
            f"--adapter-config {options.config} is a {override.method} config but --method is {options.method}; "
            "make them agree"
        )
    if options.init_adapter is not None:
        if override is not None:
            raise QwthnError("--init-adapter brings its own config; leave out --adapter-config")
        override = read_adapter_config(options.init_adapter)
        read_adapter_weights(options.init_adapter)  # a damaged weights file fails now, not after the model loads
        if options.method not in (None, override.method):
            raise QwthnError(
                f"--init-adapter {options.init_adapter} holds a {override.method} adapter but --method is "
                f"{options.method}; make them agree"
            )
        options.method = override.method
    methods = {}
    for name in [options.method] if options.method else DEFAULT_METHODS:
        method = recipe.method(name)
        adapter = override if override is not None and override.method == name else method.adapter
        if options.init_adapter is None and "seed" in type(adapter).model_fields and adapter.seed is None:
            adapter = adapter.model_copy(update={"seed": options.seed})
        steps = options.max_steps if options.max_steps is not None else method.steps
        methods[name] = MethodRecipe(adapter, steps, method.learning_rate, method.batch_size)
    if options.forward_only and not any(method.adapter.runs_circuits for method in methods.values()):
        raise QwthnError(f"--forward-only freezes circuits, but {' and '.join(methods)} run(s) none; leave out "
                         "--forward-only, or pick a circuit method (e.g. --method qwthn)")  # fmt: skip
    return methods


def _resolve_output(output: Path | None, resuming: bool) -> Path:
    if resuming:
        ensure_writable(output, "--resume directory")
        return output
    if output is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        output = Path("runs") / f"finetune-{stamp}"
        suffix = 1
        while output.exists():
            suffix += 1
            output = Path("runs") / f"finetune-{stamp}-{suffix}"
    elif output.exists() and (not output.is_dir() or any(output.iterdir())):
        if (output / STATE_DIR / "run.json").is_file() and not (output / "metrics.json").is_file():
            raise QwthnError(f"output {output} holds an interrupted run; continue it with `qwthn finetune --resume "
                             f"{output}`, or pass a new --output")  # fmt: skip
        raise QwthnError(f"output {output} already exists and is not an empty directory; pass a new --output")
    ensure_writable(output, "--output")
    return output


ensure_writable = check_writable
"""The shared probe (qwthn.files), under the name other commands import it by."""


def _check_model(options: FinetuneOptions) -> None:
    """A local --model directory's files (config, tokenizer, weights' length) checked before anything loads."""
    if options.model is None:
        return
    path = local_model_path(options.model)
    if path is not None:
        check_model_path(path)


def _check_circuits(methods: dict[str, MethodRecipe], runtime: RuntimeConfig, backend: QuantumBackend) -> None:
    """Each adapter's circuit against the backend's capabilities (qubits, gates, shots), before any model loads."""
    shared = Runtime.from_config(runtime, backend=backend)
    for method in methods.values():
        check_adapter_on_backend(method.adapter, shared)


def prepare(options: FinetuneOptions, recipe: Recipe | None = None, processes: Processes = ONE_PROCESS) -> RunPlan:
    """Check every option (cheaply) and fix what will run; with `resume`, the options are the run's own.

    Every rank checks the same options the same way; the run directory is rank 0's choice (a default
    name holds the time, which ranks could read a second apart).
    """
    if options.resume is not None:
        options = resumed_options(options)
    if options.checkpoint_every is not None and options.checkpoint_every < 1:
        raise QwthnError(f"--checkpoint-every must be at least 1, got {options.checkpoint_every}")
    check_seed(options.seed, "--seed")
    _check_model(options)
    if recipe is None:
        recipe = GENERIC_RECIPE if options.model else EMBEDDED_RECIPE
    methods = _resolve_methods(options, recipe)
    for name, method in methods.items():
        if method.batch_size < processes.world_size:
            raise QwthnError(f"{name} trains with batch {method.batch_size}, which cannot be split over "
                             f"{processes.world_size} processes; launch at most {method.batch_size}")  # fmt: skip
    runtime, backend = _resolve_runtime(options)
    _check_circuits(methods, runtime, backend)
    dataset = load_jsonl(options.dataset) if options.dataset is not None else None
    output = Path(processes.decide(lambda: str(_resolve_output(options.output, resuming=options.resume is not None))))
    return RunPlan(methods, runtime, backend, output, dataset, recipe, options, options.init_adapter, processes)


def _digest(path: Path | None) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None and path.is_file() else None


def _run_record(options: FinetuneOptions) -> dict:
    """What a resumed run needs to redo exactly what this one would have done."""
    record = {name: getattr(options, name) for name in RESUMABLE_OPTIONS}
    record = {name: str(value) if isinstance(value, Path) else value for name, value in record.items()}
    return {**record, "dataset_sha256": _digest(options.dataset), "config_sha256": _digest(options.config)}


def _flag(option: str) -> str:
    """The command-line flag of a FinetuneOptions field (the adapter file's flag is --adapter-config)."""
    return "--adapter-config" if option == "config" else "--" + option.replace("_", "-")


def resumed_options(options: FinetuneOptions) -> FinetuneOptions:
    """The options saved in a run directory, checked against what the user passed with --resume."""
    directory = options.resume
    given = [name for name in (*RESUMABLE_OPTIONS, "output", "dry_run")
             if getattr(options, name) != getattr(FinetuneOptions(), name)]  # fmt: skip
    if given:
        flags = ", ".join(_flag(name) for name in given)
        raise QwthnError(f"--resume continues a run with the options it started with; leave out {flags}")
    if not directory.is_dir():
        raise QwthnError(f"--resume {directory}: no such run directory")
    if (directory / "metrics.json").is_file():
        raise QwthnError(f"--resume {directory}: that run already finished (metrics.json is written)")
    record_path = directory / STATE_DIR / "run.json"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise QwthnError(f"--resume {directory}: not a resumable qwthn finetune run ({record_path} is missing or "
                         "unreadable)") from None  # fmt: skip
    # a run started before a flag existed resumes with that flag at its default
    saved = FinetuneOptions(**{name: record[name] for name in RESUMABLE_OPTIONS if name in record}, output=directory,
                            resume=directory)  # fmt: skip
    for name in ("dataset", "config"):
        if record[f"{name}_sha256"] != _digest(getattr(saved, name)):
            raise QwthnError(f"--resume {directory}: the {_flag(name)} file {getattr(saved, name)} changed since "
                             "the run started; restore it, or start a new run")  # fmt: skip
    return saved


def _examples(plan: RunPlan) -> tuple[list[Example], list[Example], str]:
    if plan.dataset is not None:
        unique, dropped = deduplicate(plan.dataset)
        if dropped and plan.processes.is_main:
            warn(f"dataset {plan.options.dataset} repeats {dropped} example(s); each is used once, so none is both "
                 "trained on and held out")  # fmt: skip
        train_set, held_out = split_examples(unique, HELD_OUT_FRACTION, SPLIT_SEED)
        return train_set, held_out, "user dataset"
    spec = plan.recipe.base
    train_set, held_out = corpus.task_split(spec.task_train, spec.held_out)
    return train_set, held_out, "embedded math word problems"


def _base_loader(options: FinetuneOptions, spec: BaseModelSpec) -> tuple[Callable[[], tuple], dict]:
    """A function returning a fresh (model, tokenizer) per call, and a description of the base model."""
    if options.model is not None:
        load = partial(load_causal_lm, options.model, trust_remote_code=options.trust_remote_code)
        path = local_model_path(options.model)
        file = gguf.gguf_file(path) if path is not None else None
        if file is None:
            return load, {"name": options.model}
        note = "GGUF weights, dequantized to float32 on load: they carry the file's quantization error"
        return load, {"name": options.model, "gguf": gguf.identity(file), "note": note}
    start = time.perf_counter()
    if not cache_path(spec).is_dir():
        make_console().print(f"pre-training the embedded base model once; it is cached in {cache_path(spec)}")
    path, cached = load_or_pretrain(spec)
    info = {
        "name": "embedded tiny Qwen2",
        "path": str(path),
        "cached": cached,
        "pretraining_seconds": round(time.perf_counter() - start, 2),
        "spec": asdict(spec),
    }
    return (lambda: load_causal_lm(str(path))), info


def _evaluate(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, held_out: list[Example], label: str) -> dict:
    start = time.perf_counter()
    result = exact_match(model, tokenizer, held_out, description=f"evaluating {label}")
    samples = [
        {"prompt": ex.prompt, "response": ex.response, "prediction": pred}
        for ex, pred in zip(held_out[:5], result["predictions"][:5], strict=True)
    ]
    return {
        "accuracy": result["accuracy"],
        "correct": result["correct"],
        "total": result["total"],
        "eval_seconds": round(time.perf_counter() - start, 2),
        "samples": samples,
    }


def _adapt(
    model: PreTrainedModel, method: MethodRecipe, runtime: RuntimeConfig, backend: QuantumBackend, init: Path | None
) -> InjectionReport:  # fmt: skip
    """A fresh adapter, or (with --init-adapter) a saved one to train further, e.g. forward-only on hardware.

    Circuit methods share the run's backend instance; a circuit-free method (LoRA) gets none."""
    if init is None and not method.adapter.runs_circuits:
        return inject_adapter(model, method.adapter, Runtime.classical())
    shared = Runtime.from_config(runtime, backend=backend)
    if init is None:
        return inject_adapter(model, method.adapter, shared)
    load_adapter(model, init, shared)
    targets = tuple(adapter_layers(model))
    return InjectionReport(targets, *count_parameters(model), shared)


def _finetune_one(
    name: str, method: MethodRecipe, plan: RunPlan, base: tuple, train_set: list[Example],
    held_out: list[Example], seed: int,
) -> dict:  # fmt: skip
    """Inject, train, evaluate and save one adapter on `base`, a freshly loaded (model, tokenizer).

    On several processes every rank trains; rank 0 alone evaluates, saves and returns the result ({} elsewhere).
    """
    model, tokenizer = base
    runtime, max_length, output, processes = plan.runtime, plan.recipe.max_length, plan.output, plan.processes
    torch.manual_seed(seed)
    label = method.adapter.describe()
    # Each rank draws its own shots; rank 0 the ones a one-process run draws.
    own_runtime = runtime.model_copy(update={"seed": processes.rank_seed(runtime.seed)})
    report = _adapt(model, method, own_runtime, plan.backend, plan.init_adapter)
    encoded = [encode_example(tokenizer, example, max_length) for example in train_set]
    cut = truncated(tokenizer, train_set, max_length)
    if cut and processes.is_main:
        warn(f"{cut} of {len(train_set)} training examples are longer than {max_length} tokens; their prompts lose "
             f"their start (the response is kept)")  # fmt: skip
    batches = example_batches(encoded, method.batch_size, tokenizer.pad_token_id, seed, processes)
    settings = TrainSettings(steps=method.steps, learning_rate=method.learning_rate)
    every = plan.options.checkpoint_every or DEFAULT_CHECKPOINT_EVERY
    checkpoint = Checkpoint(plan.state / f"{name}.{CHECKPOINT_NAME}", every)
    result = train(model, batches, settings, f"fine-tuning {label}", checkpoint, processes)
    evaluation = _evaluate(model, tokenizer, held_out, label) if processes.is_main else {}
    tracker = report.runtime.tracker
    if processes.distributed:  # what the whole run sent: every rank ran circuits for its slice
        tracker = Tracker(**processes.sum_values(tracker.as_dict()))
    if not processes.is_main:
        return {}
    save_adapter(model, output / name, overwrite=True)  # this run's own directory (a resumed run retrains into it)
    training = {**asdict(settings), "batch_size": method.batch_size, "max_length": max_length}
    if processes.distributed:
        training["processes"] = processes.world_size
    return {
        **evaluation,
        "label": label,
        "runtime": runtime.model_dump(mode="json"),
        "backend_usage": {**tracker.as_dict(), "summary": tracker.summary()},
        "trainable_params": report.trainable_params,
        "total_params": report.total_params,
        "targets": list(report.targets),
        "adapter_config": method.adapter.model_dump(mode="json"),
        "training": training,
        "train_seconds": round(result.seconds, 2),
        "final_loss": sum(result.losses[-10:]) / len(result.losses[-10:]),
        "losses": result.losses,
    }


def _plot(metrics: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib import ticker

    figure, axis = plt.subplots(figsize=(7, 4))
    for result in metrics["methods"].values():
        losses = torch.tensor(result["losses"])
        window = max(1, len(losses) // 25)
        smooth = losses.unfold(0, window, 1).mean(dim=1) if len(losses) >= window else losses
        line = axis.plot(losses, alpha=0.25)[0]
        label = f"{result['label']} (held-out exact match {result['accuracy']:.0%})"
        axis.plot(range(window - 1, window - 1 + len(smooth)), smooth, color=line.get_color(), label=label)
    axis.set_yscale("log")
    axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    axis.yaxis.set_minor_formatter(ticker.NullFormatter())
    axis.set_xlabel("step")
    axis.set_ylabel("training loss (response tokens)")
    axis.set_title(f"{metrics['base_model']['name']} on {metrics['task']['name']}")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _print_report(metrics: dict, console: Console) -> None:
    table = Table(title=f"held-out exact match ({metrics['task']['held_out']} examples)")
    for column in ("model", "trainable params", "exact match", "train time", "eval time"):
        table.add_column(column, justify="left" if column == "model" else "right")
    base = metrics["base"]
    table.add_row("base (no adapter)", "0", f"{base['accuracy']:.1%}", "-", f"{base['eval_seconds']:.1f} s")
    for result in metrics["methods"].values():
        table.add_row(
            result["label"],
            f"{result['trainable_params']:,}",
            f"{result['accuracy']:.1%}",
            f"{result['train_seconds']:.1f} s",
            f"{result['eval_seconds']:.1f} s",
        )
    console.print(table)
    for result in metrics["methods"].values():
        if result["backend_usage"]["calls"]:
            console.print(f"{result['label']} on backend '{result['runtime']['backend']}': "
                          f"{result['backend_usage']['summary']}", highlight=False)
    info = metrics["base_model"]
    if "cached" in info:
        origin = "loaded from cache" if info["cached"] else f"pre-trained in {info['pretraining_seconds']:.0f} s"
        console.print(f"base model {origin}: {info['path']}")
    console.print(f"run directory: {metrics['output']} (total {metrics['total_seconds']:.0f} s)")


def dry_run_finetune(plan: RunPlan, options: FinetuneOptions, console: Console) -> dict:
    """One training step per method with nothing sent to the backend: what a step, and the whole run, would send."""
    train_set, _, _ = _examples(plan)
    load, _ = _base_loader(options, plan.recipe.base)
    report = {}
    for name, method in plan.methods.items():
        model, tokenizer = load()
        torch.manual_seed(options.seed)
        injected = _adapt(model, method, plan.runtime, plan.backend, plan.init_adapter)
        encoded = [encode_example(tokenizer, example, plan.recipe.max_length) for example in train_set]
        batches = example_batches(encoded, method.batch_size, tokenizer.pad_token_id, options.seed)
        train(model, batches, TrainSettings(steps=1, learning_rate=method.learning_rate), f"dry run of {name}")
        step = injected.runtime.tracker.as_dict()
        report[name] = {"label": method.adapter.describe(), "steps": method.steps, "per_step": step,
                        "whole_run": {key: value * method.steps for key, value in step.items() if key != "circuits"}}
    backend = plan.runtime.backend
    for result in report.values():
        step, run = result["per_step"], result["whole_run"]
        device = f", about {run['estimated_device_seconds'] / 3600:.3g} h of device time" if run[
            "estimated_device_seconds"] else ""  # fmt: skip
        console.print(
            f"{result['label']} on '{backend}' (dry run, nothing sent): one training step sends {step['calls']:,} "
            f"calls, {step['rows']:,} circuit rows, {step['shots']:,} shots; {result['steps']} steps send "
            f"{run['rows']:,.0f} rows and {run['shots']:,.0f} shots{device}",
            highlight=False, markup=False,
        )
    return {"dry_run": True, "runtime": plan.runtime.model_dump(mode="json"), "methods": report}


def _abandon(plan: RunPlan, error: BaseException) -> None:
    """A run that stopped early: its directory goes when nothing was kept, else it says how to resume."""
    kept = [path.name for path in plan.state.glob(f"*.{CHECKPOINT_NAME}")] + [
        path.name for path in plan.state.glob(f"*.{RESULT_SUFFIX}")]  # fmt: skip
    if not kept:
        shutil.rmtree(plan.output, ignore_errors=True)
        return
    resume = f"continue it with: qwthn finetune --resume {plan.output}"
    reason = "interrupted (Ctrl-C)" if isinstance(error, KeyboardInterrupt) else " ".join(str(error).split())
    write_text_atomically(
        plan.output / "INCOMPLETE",
        f"this run stopped before it finished: {reason or type(error).__name__}\n"
        f"saved state: {', '.join(sorted(kept))} in {plan.state}\n{resume}\n",
    )
    if isinstance(error, KeyboardInterrupt):
        make_console(stderr=True, highlight=False).print(
            f"{error or 'stopped'}; {resume}", markup=False, soft_wrap=True
        )


def _load_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_finetune(options: FinetuneOptions, recipe: Recipe | None = None) -> dict:
    """Run the comparison and write metrics.json, loss_curves.png and one adapter directory per method.

    With `dry_run`, nothing is trained to the end, sent or written: one step per method is counted.
    Launched on several processes (WORLD_SIZE > 1), every rank trains and rank 0 returns the metrics;
    the others return {"rank": ..., "output": ...}.
    """
    processes = Processes.from_environment()
    with processes.session():
        return _run(options, recipe, processes)


def _run(options: FinetuneOptions, recipe: Recipe | None, processes: Processes) -> dict:
    start = time.perf_counter()
    plan = prepare(options, recipe, processes)
    quiet_progress_off_terminal()  # transformers' \r bars (loading, pre-training's shard writes) in a log
    options, main = plan.options, processes.is_main
    if options.dry_run:  # one step per method, nothing shared: rank 0 alone counts it
        return dry_run_finetune(plan, options, make_console()) if main else {"rank": processes.rank}
    train_set, held_out, task_name = _examples(plan)
    with processes.main_first():  # the embedded base model is pre-trained (and cached) once
        load, base_info = _base_loader(options, plan.recipe.base)
    unused = [load()]  # the base evaluation does not change the model, so the first adapter reuses it
    console = make_console()
    if main:
        console.print(f"base model: {base_info['name']}; {task_name}: {len(train_set)} train, "
                      f"{len(held_out)} held out")  # fmt: skip
        plan.state.mkdir(parents=True, exist_ok=True)
        write_json_atomically(plan.state / "run.json", _run_record(options))
    try:
        base = _load_json(plan.state / "base.json") if main else {}
        if base is None:
            base = _evaluate(*unused[0], held_out, "base model")
            write_json_atomically(plan.state / "base.json", base)
        methods = {}
        for name, method in plan.methods.items():
            done = plan.state / f"{name}.{RESULT_SUFFIX}"
            methods[name] = _load_json(done) if main and (plan.output / name / WEIGHTS_NAME).is_file() else None
            if processes.decide(lambda result=methods[name]: "train" if result is None else "done") == "train":
                fresh = unused.pop() if unused else load()
                methods[name] = _finetune_one(name, method, plan, fresh, train_set, held_out, options.seed)
                if main:
                    write_json_atomically(done, methods[name])
                    (plan.state / f"{name}.{CHECKPOINT_NAME}").unlink(missing_ok=True)
    except BaseException as error:
        if main:
            _abandon(plan, error)
        raise
    if not main:
        return {"rank": processes.rank, "output": str(plan.output)}
    metrics = {
        "output": str(plan.output),
        "seed": options.seed,
        "base_model": base_info,
        "task": {
            "name": task_name,
            "dataset": str(options.dataset) if options.dataset else None,
            "train": len(train_set),
            "held_out": len(held_out),
        },
        "recipe_note": plan.recipe.note,
        "accuracy": {"base": base["accuracy"], **{name: result["accuracy"] for name, result in methods.items()}},
        "base": base,
        "methods": methods,
    }
    _plot(metrics, plan.output / "loss_curves.png")
    metrics["total_seconds"] = round(time.perf_counter() - start, 2)
    write_json_atomically(plan.output / "metrics.json", metrics)
    shutil.rmtree(plan.state, ignore_errors=True)
    (plan.output / "INCOMPLETE").unlink(missing_ok=True)
    _print_report(metrics, console)
    return metrics
