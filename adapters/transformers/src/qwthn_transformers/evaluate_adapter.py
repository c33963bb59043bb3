"""`qwthn evaluate`: a trained adapter's held-out accuracy with its circuits on any backend, next to the exact emulator.

The adapter's files are never touched: where its circuits run is a `RuntimeConfig`. Every option is checked
(backend, options, adapter files, dataset) before a model is loaded, so a typo costs a second.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from qwthn.cli_runtime import RuntimeFlags, create_backend
from qwthn.console import make_console, warn
from qwthn.contract.backend import QuantumBackend
from qwthn.errors import QwthnError
from qwthn.model.inject import check_adapter_on_backend
from qwthn.model.persistence import CONFIG_NAME, load_adapter, read_adapter_config, read_adapter_weights
from qwthn.runtime import Runtime, RuntimeConfig
from qwthn.validation import check_seed
from qwthn_transformers.data import Example, load_jsonl
from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded.base_model import BaseModelSpec
from qwthn_transformers.evaluate import exact_match
from qwthn_transformers.loading import check_adapter_base, load_causal_lm

EXACT = RuntimeConfig()
"""The reference every other backend is shown against: the exact emulator."""


@dataclass(kw_only=True)
class EvaluateOptions(RuntimeFlags):
    """What `qwthn evaluate` accepts (the runtime flags included); None means the default named in `--help`."""

    adapter: Path
    model: str | None = None
    dataset: Path | None = None
    seed: int = 0
    limit: int | None = None
    dry_run: bool = False
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        for name, flag in (("adapter", "ADAPTER"), ("model", "--model"), ("dataset", "--dataset")):
            value = getattr(self, name)
            if isinstance(value, str) and not value.strip():  # Path('') is '.', silently a directory
                raise QwthnError(f"{flag} is empty; give it a value, or leave it out for its default")


def _runtime(options: EvaluateOptions) -> tuple[RuntimeConfig, QuantumBackend]:
    """The chosen runtime and its one backend instance: unknown name or bad option fails before any model loads."""
    check_seed(options.seed, "--seed")
    runtime = options.runtime_config(seed=options.seed, dry_run=options.dry_run)
    return runtime, create_backend(runtime)


def _base_model(options: EvaluateOptions) -> str:
    if options.model is not None:
        return options.model
    saved = json.loads((options.adapter / CONFIG_NAME).read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not saved:
        raise QwthnError(f"{options.adapter / CONFIG_NAME} does not name its base model; pass --model")
    return saved


def _examples(options: EvaluateOptions) -> tuple[list[Example], str]:
    if options.limit is not None and options.limit < 1:
        raise QwthnError(f"--limit must be at least 1, got {options.limit}")
    if options.dataset is not None:
        examples, name = load_jsonl(options.dataset), str(options.dataset)
    else:
        spec = BaseModelSpec()
        examples, name = corpus.task_split(spec.task_train, spec.held_out)[1], "embedded math word problems (held out)"
    return examples[: options.limit] if options.limit is not None else examples, name


def _evaluate_on(
    options: EvaluateOptions, base: str, runtime: RuntimeConfig, backend: QuantumBackend | None, examples: list[Example]
) -> dict:  # fmt: skip
    label = _label(runtime)
    check_adapter_base(options.adapter, base)
    model, tokenizer = load_causal_lm(base, trust_remote_code=options.trust_remote_code)
    shared = Runtime.from_config(runtime, backend=backend)
    load_adapter(model, options.adapter, shared)
    start = time.perf_counter()
    result = exact_match(model, tokenizer, examples, description=f"evaluating on {label}")
    return {
        "label": label,
        "runtime": runtime.model_dump(mode="json"),
        "accuracy": result["accuracy"],
        "correct": result["correct"],
        "total": result["total"],
        "seconds": round(time.perf_counter() - start, 2),
        "backend_usage": {**shared.tracker.as_dict(), "summary": shared.tracker.summary()},
    }


def _label(runtime: RuntimeConfig) -> str:
    shots = f", {runtime.shots} shots" if runtime.shots else ", exact"
    dry = " (dry run: nothing sent, values from the exact reference)" if runtime.dry_run else ""
    return f"{runtime.backend}{shots}{dry}"


def run_evaluate(options: EvaluateOptions, console: Console | None = None) -> dict:
    """Evaluate the adapter on the chosen backend and on the exact emulator; print and return both.

    With `dry_run`, nothing reaches the chosen backend: the report counts what the evaluation would
    send (calls, circuits, rows, shots and the backend's own device-time estimate).
    """
    options.adapter = Path(options.adapter)
    config = read_adapter_config(options.adapter)
    runtime, backend = _runtime(options)
    base = _base_model(options)
    examples, dataset = _examples(options)
    read_adapter_weights(options.adapter)  # a damaged weights file fails now, not after the base model loads
    check_adapter_on_backend(config, Runtime.from_config(runtime, backend=backend))  # before any model loads
    runtimes = [runtime] if runtime == EXACT or runtime.dry_run else [runtime, EXACT]
    unused = [f"--backend {runtime.backend}"] * (runtime.backend != EXACT.backend) + [
        f"--shots {runtime.shots}"] * (runtime.shots is not None)  # fmt: skip
    if not config.runs_circuits and unused:
        warn(f"this {config.method} adapter runs no circuit, so {' and '.join(unused)} go unused; it is evaluated "
             "once, classically")  # fmt: skip
        runtimes = [runtime]
    # the chosen backend's instance serves its run; the exact reference builds its own emulator
    results = [_evaluate_on(options, base, each, backend if each is runtime else None, examples) for each in runtimes]
    report = {"adapter": str(options.adapter), "method": config.method, "base_model": base, "dataset": dataset,
              "results": results}  # fmt: skip
    _print(report, console or make_console())
    return report


def _print(report: dict, console: Console) -> None:
    table = Table(title=f"{report['method']} adapter {report['adapter']} on {report['dataset']}")
    for column in ("circuits run on", "exact match", "correct", "time"):
        table.add_column(column, justify="left" if column == "circuits run on" else "right")
    for result in report["results"]:
        table.add_row(
            result["label"], f"{result['accuracy']:.1%}", f"{result['correct']}/{result['total']}",
            f"{result['seconds']:.1f} s",
        )  # fmt: skip
    console.print(table)
    for result in report["results"]:
        console.print(f"{result['label']}: {result['backend_usage']['summary']}", highlight=False, markup=False)
    console.print("Simulated circuits are classical computations: these figures say nothing about quantum advantage.")
