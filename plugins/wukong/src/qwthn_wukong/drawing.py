"""Draw a chip profile with matplotlib (Agg): qubits coloured by fidelity score, couplers by CZ fidelity."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from qwthn.files import check_output_file, write_output_file
from qwthn_wukong.profile import ChipProfile
from qwthn_wukong.topology import N_QUBITS, ROWS, grid_couplers, position


def qubit_score(profile: ChipProfile, qubit: int) -> float:
    """Per-qubit figure of merit: single-gate fidelity x mean readout fidelity."""
    calibration = profile.qubits[qubit]
    return calibration.single_fidelity * calibration.readout_fidelity


UNIFORM_SPREAD = 1e-9
"""Values closer than this are one value: a colour bar over them would only show rounding (e.g. 1e-6+8.8672e-1)."""


def uniform_value(values: Sequence[float]) -> float | None:
    """The one value when all are (numerically) equal, so the picture says it instead of drawing a degenerate bar."""
    if not values:
        return None
    low, high = min(values), max(values)
    return (low + high) / 2 if high - low <= UNIFORM_SPREAD * max(1.0, abs(high)) else None


def chip_figure(profile: ChipProfile, layout: Sequence[int] = (), title: str | None = None) -> Any:
    """The chip as a matplotlib Figure (Agg); a colour bar per varying scale, a legend entry for a uniform one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors
    from matplotlib.patches import Patch

    figure, axes = plt.subplots(figsize=(6.5, 11))
    qubit_map = matplotlib.colormaps["viridis"]
    cz_map = matplotlib.colormaps["plasma"]
    scores = [qubit_score(profile, q) for q in profile.qubits] or [1.0]
    cz_values = list(profile.couplers.values()) or [1.0]
    qubit_norm, cz_norm = _norm(scores, colors), _norm(cz_values, colors)
    chosen = set(layout)
    chain_edges = {tuple(sorted(pair)) for pair in itertools.pairwise(layout)}

    def xy(qubit: int) -> tuple[float, float]:
        row, column = position(qubit)
        return float(column), float(ROWS - 1 - row)

    for a, b in grid_couplers():
        fidelity = profile.couplers.get((a, b))
        (xa, ya), (xb, yb) = xy(a), xy(b)
        colour = "lightgrey" if fidelity is None else cz_map(cz_norm(fidelity))
        width = 6 if (a, b) in chain_edges else 3
        axes.plot([xa, xb], [ya, yb], color=colour, linewidth=width, zorder=1, solid_capstyle="round")
        if (a, b) in chain_edges:
            axes.plot([xa, xb], [ya, yb], color="red", linewidth=1.5, zorder=2)
    for qubit in range(N_QUBITS):
        x, y = xy(qubit)
        usable = qubit in profile.qubits
        colour = qubit_map(qubit_norm(qubit_score(profile, qubit))) if usable else "lightgrey"
        edge = "red" if qubit in chosen else "black"
        axes.scatter([x], [y], s=420, c=[colour], edgecolors=edge, linewidths=3 if qubit in chosen else 0.8, zorder=3)
        axes.text(
            x, y, str(qubit), ha="center", va="center", fontsize=7, zorder=4, color="white" if usable else "dimgrey"
        )
    scales = (
        (scores, qubit_norm, qubit_map, "qubit score: F_1q x mean readout fidelity", "vertical", 0.04),
        (cz_values, cz_norm, cz_map, "CZ fidelity (grey: uncalibrated, unusable)", "horizontal", 0.03),
    )
    uniform_entries = []
    for values, norm, colour_map, label, orientation, fraction in scales:
        value = uniform_value(values)
        if value is not None:
            uniform_entries.append(Patch(color=colour_map(norm(value)), label=f"{label}: all {value:.4f}"))
            continue
        bar = figure.colorbar(
            cm.ScalarMappable(norm, colour_map), ax=axes, orientation=orientation, fraction=fraction, pad=0.02,
            label=label,
        )  # fmt: skip
        bar.formatter.set_useOffset(False)  # close values read as themselves, not as an offset over the label
        bar.update_ticks()
    if uniform_entries:
        axes.legend(handles=uniform_entries, loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8, frameon=False)
    axes.set_title(title or f"{profile.name}: {len(profile.qubits)} usable qubits, {len(profile.couplers)} couplers")
    axes.set_xlim(-0.7, 5.7)
    axes.set_ylim(-0.7, ROWS - 0.3)
    axes.set_aspect("equal")
    axes.axis("off")
    return figure


def _norm(values: Sequence[float], colors: Any) -> Any:
    """A colour scale over `values`; a uniform one maps its value to the middle of the colour map."""
    value = uniform_value(values)
    if value is not None:
        return colors.Normalize(value - 1.0, value + 1.0)
    return colors.Normalize(min(values), max(values))


def image_suffixes() -> tuple[str, ...]:
    """The file formats matplotlib can write, as lower-case suffixes ('.png' first: the default)."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    return (".png", *(f".{name}" for name in formats if name != "png"))


def draw_chip(profile: ChipProfile, output: str | Path, layout: Sequence[int] = (), title: str | None = None) -> Path:
    """Draw the chip to `output` (its suffix picks the format), atomically, creating missing parent directories."""
    import matplotlib.pyplot as plt

    output = check_output_file(Path(output), "--output", image_suffixes())
    figure = chip_figure(profile, layout, title)
    try:
        write = partial(figure.savefig, format=output.suffix[1:].lower(), dpi=100, bbox_inches="tight")
        write_output_file(output, write, "--output")
    finally:
        plt.close(figure)
    return output


def summary_rows(profile: ChipProfile) -> list[tuple[str, str]]:
    medians = profile.medians()
    rows = [
        ("profile", f"{profile.name} ({profile.source})"),
        ("usable qubits", f"{len(profile.qubits)} of {N_QUBITS}"),
        ("usable couplers", f"{len(profile.couplers)} of {len(grid_couplers())}"),
        ("largest connected set", str(profile.largest_component())),
        ("gate clocks", f"RPhi {profile.single_gate_ns:g} ns, CZ {profile.cz_gate_ns:g} ns (RZ virtual)"),
        ("max shots", str(profile.max_shots)),
    ]
    labels = {
        "t1_us": ("median T1", "{:.2f} us"),
        "t2_us": ("median T2", "{:.2f} us"),
        "single_fidelity": ("median 1q fidelity", "{:.4f}"),
        "cz_fidelity": ("median CZ fidelity", "{:.4f}"),
        "readout_p00": ("median readout P(0|0)", "{:.4f}"),
        "readout_p11": ("median readout P(1|1)", "{:.4f}"),
    }
    for key, (label, form) in labels.items():
        if key in medians and not math.isnan(medians[key]):
            rows.append((label, form.format(medians[key])))
    return rows
