"""`qwthn chip`: draw the Wukong chip and its calibration, and show where an n-qubit chain would go."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def chip(
    calibration: Annotated[
        Optional[Path], typer.Option("--calibration", help="Calibration JSON; default: the built-in median profile.")
    ] = None,
    output: Annotated[Path, typer.Option(
        "--output", help="Image to write (PNG; .svg and .pdf work too); missing parent directories are created."
    )] = Path("chip.png"),
    layout_qubits: Annotated[
        Optional[int], typer.Option("--layout-qubits", min=1, help="Highlight where an N-qubit chain is placed.")
    ] = None,
) -> None:
    """Draw the Wukong 72 chip (qubits by fidelity, couplers by CZ fidelity, unusable ones grey) and summarise it."""
    from qwthn.files import check_output_file
    from qwthn_wukong.calibration import resolve_profile
    from qwthn_wukong.drawing import draw_chip, image_suffixes, summary_rows
    from qwthn_wukong.placement import chain_placement

    check_output_file(output, "--output", image_suffixes())  # before any work: the path, its format, its place
    profile = resolve_profile(calibration)
    rows = summary_rows(profile)
    layout: tuple[int, ...] = ()
    if layout_qubits is not None:
        placement = chain_placement(profile, layout_qubits)
        layout = placement.physical
        rows.append((f"{layout_qubits}-qubit chain", " - ".join(map(str, layout))))
        rows.append(("chain score (log fidelity)", f"{placement.score:.4f}"))
    written = draw_chip(profile, output, layout)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        typer.echo(f"{label:<{width}}  {value}")
    typer.echo(f"wrote {written}")
