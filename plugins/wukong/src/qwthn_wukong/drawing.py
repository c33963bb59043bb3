"""Draw a chip profile with matplotlib (Agg): qubits coloured by fidelity score, couplers by CZ fidelity."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

from qwthn_wukong.profile import ChipProfile
from qwthn_wukong.topology import N_QUBITS, ROWS, grid_couplers, position


def qubit_score(profile: ChipProfile, qubit: int) -> float:
    """Per-qubit figure of merit: single-gate fidelity x mean readout fidelity."""
    calibration = profile.qubits[qubit]
    return calibration.single_fidelity * calibration.readout_fidelity


def draw_chip(profile: ChipProfile, output: str | Path, layout: Sequence[int] = (), title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    output = Path(output)
    figure, axes = plt.subplots(figsize=(6.5, 11))
    qubit_map = matplotlib.colormaps["viridis"]
    cz_map = matplotlib.colormaps["plasma"]
    scores = [qubit_score(profile, q) for q in profile.qubits] or [1.0]
    qubit_norm = colors.Normalize(min(scores), max(max(scores), min(scores) + 1e-6))
    cz_values = list(profile.couplers.values()) or [1.0]
    cz_norm = colors.Normalize(min(cz_values), max(max(cz_values), min(cz_values) + 1e-6))
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
    figure.colorbar(
        cm.ScalarMappable(qubit_norm, qubit_map),
        ax=axes,
        fraction=0.04,
        pad=0.02,
        label="qubit score: F_1q x mean readout fidelity",
    )
    figure.colorbar(
        cm.ScalarMappable(cz_norm, cz_map),
        ax=axes,
        orientation="horizontal",
        fraction=0.03,
        pad=0.02,
        label="CZ fidelity (grey: uncalibrated, unusable)",
    )
    axes.set_title(title or f"{profile.name}: {len(profile.qubits)} usable qubits, {len(profile.couplers)} couplers")
    axes.set_xlim(-0.7, 5.7)
    axes.set_ylim(-0.7, ROWS - 0.3)
    axes.set_aspect("equal")
    axes.axis("off")
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=100, bbox_inches="tight")
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
