"""The `qwthn` command line: list backends, fine-tune.

User mistakes (QwthnError) print one line on stderr and exit with status 2;
nothing else is caught, so real bugs keep their traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from qwthn import __version__
from qwthn.errors import QwthnError
from qwthn.registry import list_backends

app = typer.Typer(
    name="qwthn",
    help="Quantum Weighted Tensor Hybrid Network adapters for LLM fine-tuning, on pluggable quantum backends.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
USAGE_ERROR = 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qwthn {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    """Quantum Weighted Tensor Hybrid Network adapters for LLM fine-tuning."""


@app.command()
def backends() -> None:
    """List the installed quantum backends with their versions and capabilities."""
    table = Table(title="qwthn backends (entry-point group qwthn.backends)")
    for column in ("name", "distribution", "version", "max qubits", "gates", "autograd", "shots", "noise",
                   "ordering", "remote"):
        table.add_column(column)
    yes_no = {True: "yes", False: "no"}
    for entry in list_backends():
        caps = entry.backend_class.capabilities
        table.add_row(
            entry.name, entry.distribution, entry.version, str(caps.max_qubits), " ".join(sorted(caps.supported_gates)),
            yes_no[caps.differentiable], yes_no[caps.supports_shots], yes_no[caps.supports_noise],
            caps.qubit_ordering, yes_no[caps.remote],
        )
    Console().print(table)


@app.command()
def finetune(
    model: Annotated[Optional[str], typer.Option(help="Local model directory or hub id; default: the embedded "
                                                 "tiny Qwen2, pre-trained here on first use.")] = None,
    dataset: Annotated[Optional[Path], typer.Option(help="JSONL file, one {\"prompt\", \"response\"} per line; "
                                                    "default: the built-in math word problems.")] = None,
    backend: Annotated[Optional[str], typer.Option(help="Quantum backend name (see `qwthn backends`).")] = None,
    method: Annotated[Optional[str], typer.Option(help="qwthn or lora; default: both, compared.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML/JSON adapter config file.")] = None,
    output: Annotated[Optional[Path], typer.Option(help="Run directory; default: runs/finetune-<time>.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of data order, initialisation and shots.")] = 0,
    max_steps: Annotated[Optional[int], typer.Option(help="Training steps per adapter.")] = None,
) -> None:
    """Fine-tune with QWTHN and/or LoRA; with no options, the embedded offline demo."""
    try:
        from qwthn_transformers.finetune import FinetuneOptions, run_finetune
    except ImportError as error:
        raise QwthnError(
            f"qwthn finetune needs the transformers adapter ({error.name} is missing); "
            "install it: pip install 'qwthn[transformers]'"
        ) from None
    options = FinetuneOptions(
        model=model, dataset=dataset, backend=backend, method=method, config=config,
        output=output, seed=seed, max_steps=max_steps,
    )
    run_finetune(options)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, prog_name="qwthn")
    except QwthnError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(USAGE_ERROR)
