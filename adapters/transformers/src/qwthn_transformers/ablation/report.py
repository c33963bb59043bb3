"""The ablation report: per-arm table (mean +- std over seeds), comparisons, a verdict, plots, JSON.

For each arm and seed the learning rate with the lowest validation loss is kept; the test metric of
that unit is what the tables report. A difference counts only when it exceeds twice the combined
seed spread (sqrt(std_a^2 + std_b^2)); with one seed nothing can be decided and the report says so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console

from qwthn_transformers.ablation.runner import Plan, best_unit

COMPARISONS: tuple[tuple[str, str, str], ...] = (
    ("qwthn", "qwthn-no-qnn", "our QNN vs no QNN (MPO maps only)"),
    ("qwthn", "qwthn-mlp", "our QNN vs a classical MLP of its size"),
    ("qwthn", "qwthn-frozen-qnn", "training our QNN vs a frozen random one"),
    ("qwthn", "qwthn-fourier", "our QNN vs its Fourier features trained from scratch"),
    ("qwthn", "qwthn-shots", "exact vs 1000-shot training"),
    ("qwthn", "lora-matched-qwthn", "our hybrid vs LoRA of equal size"),
    ("qwthn", "lora-r4", "our hybrid vs LoRA r=4"),
    ("qtha", "qtha-mpo-dense", "the authors' QNN vs no QNN, with MPOs (ABC vs AB)"),
    ("qtha-dense-qnn", "qtha-dense", "the authors' QNN vs no QNN, without MPOs (BC vs B)"),
    ("qtha-dense-qnn", "qtha-mlp2", "the authors' QNN vs a 2-layer SiLU MLP (BC vs BD)"),
    ("qtha-dense-qnn", "qtha-mlp3", "the authors' QNN vs a 3-layer SiLU MLP (BC vs BE)"),
    ("qtha-dense-qnn", "qtha-mlp4", "the authors' QNN vs a 4-layer SiLU MLP (BC vs BF)"),
    ("qtha", "qtha-dense-qnn", "the authors' MPOs vs none (ABC vs BC)"),
    ("qtha", "qtha-mpo", "the authors' full architecture vs its MPOs alone (ABC vs A)"),
    ("qtha", "lora-matched-qtha", "the authors' architecture vs LoRA of equal size"),
    ("qtha", "lora-r4", "the authors' architecture vs LoRA r=4"),
    ("qwthn-dequantized", "qwthn", "the trained QNN's exact classical form vs the circuit (equal by construction)"),
)
QUANTUM_QUESTIONS = {
    "qwthn-no-qnn",
    "qwthn-mlp",
    "qwthn-frozen-qnn",
    "qwthn-fourier",
    "qtha-mpo-dense",
    "qtha-mlp2",
    "qtha-mlp3",
    "qtha-mlp4",
}
"""Controls that remove or replace the QNN: a gain over them is a gain carried by the QNN."""


def _stats(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def summarise(results: dict[str, list[dict]]) -> dict[str, dict]:
    """Per arm: the chosen unit of each seed, and mean/std of what the tables show."""
    summary = {}
    for arm, units in results.items():
        seeds = sorted({unit["seed"] for unit in units})
        chosen = [best_unit([u for u in units if u["seed"] == seed]) for seed in seeds]
        row = {
            "label": chosen[0]["label"],
            "trainable_params": chosen[0]["trainable_params"],
            "seeds": len(chosen),
            "learning_rates": [c["learning_rate"] for c in chosen],
        }
        for key in ("test_metric", "validation_loss", "train_loss", "step_seconds", "peak_memory_mib"):
            values = [c[key] for c in chosen if c.get(key) is not None]
            row[key] = _stats(values) if values else None
        for key in ("inference_seconds", "inference_seconds_of_source", "source_params", "max_abs_difference"):
            if key in chosen[0]:
                row[key] = (
                    max(c[key] for c in chosen) if key == "max_abs_difference" else _stats([c[key] for c in chosen])
                )
        row["curve"] = _mean_curve([c["losses"] for c in chosen if c["losses"]])
        summary[arm] = row
    return summary


def _mean_curve(curves: list[list[float]]) -> list[float]:
    if not curves:
        return []
    length = min(len(curve) for curve in curves)
    return [sum(curve[i] for curve in curves) / len(curves) for i in range(length)]


def _outcome(gain: float, spread: float, seeds: int) -> str:
    """'better' when the arm leads its control by more than twice the combined spread (gain > 0 is better)."""
    if seeds < 2:
        return "undetermined (one seed)"
    if gain > 2 * spread and gain != 0:
        return "better"
    if -gain > 2 * spread and gain != 0:
        return "worse"
    return "no difference beyond the spread"


def compare(summary: dict[str, dict]) -> list[dict]:
    rows = []
    for arm, control, question in COMPARISONS:
        if arm not in summary or control not in summary:
            continue
        (a, sa), (b, sb) = summary[arm]["test_metric"], summary[control]["test_metric"]
        (va, sva), (vb, svb) = summary[arm]["validation_loss"], summary[control]["validation_loss"]
        spread, loss_spread = math.hypot(sa, sb), math.hypot(sva, svb)
        seeds = min(summary[arm]["seeds"], summary[control]["seeds"])
        rows.append(
            {
                "arm": arm, "control": control, "question": question, "difference": a - b, "spread": spread,
                "validation_loss_difference": va - vb, "validation_loss_spread": loss_spread,
                "outcome": _outcome(a - b, spread, seeds),
                "validation_loss_outcome": _outcome(vb - va, loss_spread, seeds),
            }
        )  # fmt: skip
    return rows


def verdict(comparisons: list[dict], summary: dict[str, dict], metric: str) -> list[str]:
    lines = []
    quantum = [c for c in comparisons if c["control"] in QUANTUM_QUESTIONS]
    gains = [c for c in quantum if "better" in (c["outcome"], c["validation_loss_outcome"])]
    losses = [c for c in quantum if "worse" in (c["outcome"], c["validation_loss_outcome"])]
    if any(c["outcome"].startswith("undetermined") for c in comparisons):
        lines.append("With one seed no difference can be told from seed noise; run with --seeds 3 or more.")
    for c in gains:
        lines.append(
            f"The QNN carries a gain in **{c['question']}**: {c['difference']:+.3f} {metric} (spread "
            f"{c['spread']:.3f}; {c['outcome']}), validation loss {c['validation_loss_difference']:+.3f} (spread "
            f"{c['validation_loss_spread']:.3f}; {c['validation_loss_outcome']})."
        )
    for c in losses:
        lines.append(
            f"The QNN does worse than its classical control in **{c['question']}**: {c['difference']:+.3f} "
            f"{metric} (spread {c['spread']:.3f}), validation loss {c['validation_loss_difference']:+.3f} "
            f"(spread {c['validation_loss_spread']:.3f})."
        )
    if quantum and not gains:
        lines.append(
            f"No QNN shows a gain over any of its {len(quantum)} classical controls that ran "
            f"({', '.join(c['control'] for c in quantum)}) beyond twice the seed spread, on {metric} or on "
            "validation loss."
        )
    structural = [
        c for c in comparisons if c["control"] not in QUANTUM_QUESTIONS and c["outcome"] in ("better", "worse")
    ]
    for c in structural:
        lines.append(f"{c['question']}: {c['outcome']} ({c['difference']:+.3f} {metric}, spread {c['spread']:.3f}).")
    if "qwthn-dequantized" in summary and "qwthn" in summary:
        worst = summary["qwthn-dequantized"].get("max_abs_difference")
        lines.append(
            f"The dequantized adapter (the trained circuit replaced by its exact Fourier series, max |difference| "
            f"{worst:.1e}) scores {summary['qwthn-dequantized']['test_metric'][0]:.3f} against the circuit's "
            f"{summary['qwthn']['test_metric'][0]:.3f}: what the QNN learned is a classical function."
        )
    lines.append(
        "Every arm here ran on a classical computer (the exact emulator, or a simulator of the Wukong chip): a "
        "simulated QNN is a classical algorithm and cannot show a quantum advantage, so nothing in this report does."
    )
    return lines


def _fmt(stat, digits: int = 3, scale: float = 1.0) -> str:
    if stat is None:
        return "-"
    mean, std = stat
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def _plots(output: Path, summary: dict[str, dict], sweep: list[dict] | None, metric: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    files = []
    arms = list(summary)
    figure, axis = plt.subplots(figsize=(max(6, 0.55 * len(arms)), 4))
    means = [summary[a]["test_metric"][0] for a in arms]
    stds = [summary[a]["test_metric"][1] for a in arms]
    axis.bar(range(len(arms)), means, yerr=stds, capsize=3, color="tab:blue")
    axis.set_xticks(range(len(arms)), arms, rotation=60, ha="right")
    axis.set_ylabel(f"test {metric} (mean ± std over seeds)")
    figure.tight_layout()
    figure.savefig(output / "test_metric.png", dpi=110)
    plt.close(figure)
    files.append("test_metric.png")
    figure, axis = plt.subplots(figsize=(7, 4))
    for arm in arms:
        curve = summary[arm]["curve"]
        if curve:
            window = max(1, len(curve) // 20)
            smooth = [
                sum(curve[max(0, i - window + 1) : i + 1]) / len(curve[max(0, i - window + 1) : i + 1])
                for i in range(len(curve))
            ]
            axis.plot(smooth, label=arm)
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("training loss (mean over seeds)")
    axis.legend(fontsize=6, ncol=2)
    figure.tight_layout()
    figure.savefig(output / "loss_curves.png", dpi=110)
    plt.close(figure)
    files.append("loss_curves.png")
    if sweep:
        figure, axis = plt.subplots(figsize=(6, 4))
        for mitigation in ("none", "readout"):
            rows = [r for r in sweep if r["mitigation"] == mitigation]
            axis.plot(
                [r["noise_scale"] for r in rows],
                [r["test_metric"] for r in rows],
                marker="o",
                label=f"readout mitigation: {mitigation}",
            )
        axis.set_xlabel("noise scale (x calibrated Wukong noise)")
        axis.set_ylabel(f"test {metric}")
        axis.legend()
        figure.tight_layout()
        figure.savefig(output / "noise_sweep.png", dpi=110)
        plt.close(figure)
        files.append("noise_sweep.png")
    return files


def write_report(plan: Plan, results: dict[str, list[dict]], notes: list[str], sweep, console: Console) -> dict:
    options, task = plan.options, plan.task
    summary = summarise(results)
    comparisons = compare(summary)
    lines = verdict(comparisons, summary, task.metric)
    output = options.output
    plots = _plots(output, summary, sweep, task.metric)
    md = [
        f"# Ablation: {task.description}",
        "",
        f"{options.seeds} seed(s); {task.steps} steps of batch {task.batch_size} per unit, the same schedule and "
        f"data order for every arm; learning rate per arm and seed chosen on the validation split among "
        f"{list(options.lr_multipliers)} x the arm's base rate; the test split is only reported.",
        "",
        "## Verdict",
        "",
        *[f"- {line}" for line in lines],
        "",
        "## Arms",
        "",
        f"| arm | what it isolates | trainable params | test {task.metric} | validation loss | train loss | "
        "step time (ms) | RSS growth in training (MiB) | chosen learning rates |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    questions = {arm.name: arm.question for arm in plan.arms}
    for arm, row in summary.items():
        md.append(
            f"| {arm} | {questions.get(arm, '')} | {row['trainable_params']:,} | {_fmt(row['test_metric'])} | "
            f"{_fmt(row['validation_loss'])} | {_fmt(row['train_loss'])} | {_fmt(row['step_seconds'], 1, 1e3)} | "
            f"{_fmt(row['peak_memory_mib'], 0)} | {', '.join(f'{lr:g}' for lr in row['learning_rates'])} |"
        )
    md += [
        "",
        "## Comparisons",
        "",
        f"| question | arm - control: test {task.metric} | spread | validation loss difference | outcome |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for c in comparisons:
        md.append(
            f"| {c['question']} | {c['difference']:+.3f} | {c['spread']:.3f} | "
            f"{c['validation_loss_difference']:+.4f} ± {c['validation_loss_spread']:.4f} | {c['outcome']} |"
        )
    if "qwthn-dequantized" in summary:
        row = summary["qwthn-dequantized"]
        md += [
            "",
            "## The dequantized QNN",
            "",
            f"Size: {row['trainable_params']:,} adapter parameters against the circuit adapter's "
            f"{row['source_params'][0]:,.0f}; validation pass {_fmt(row['inference_seconds'], 2)} s against "
            f"{_fmt(row['inference_seconds_of_source'], 2)} s on the emulator; max |difference| of the series "
            f"from the circuit {row['max_abs_difference']:.1e}.",
        ]
    if sweep:
        md += [
            "",
            "## Wukong noise sweep (chosen `qwthn` adapter, seed 0)",
            "",
            f"| noise scale | readout mitigation | test {task.metric} | validation loss |",
            "| ---: | --- | ---: | ---: |",
        ]
        md += [
            f"| {r['noise_scale']:g} | {r['mitigation']} | {r['test_metric']:.3f} | {r['validation_loss']:.4f} |"
            for r in sweep
        ]
    if notes:
        md += ["", "## Notes", "", *[f"- {note}" for note in notes]]
    md += ["", "## Plots", "", *[f"![{name}]({name})" for name in plots], ""]
    (output / "report.md").write_text("\n".join(md), encoding="utf-8")
    report = {
        "task": task.description,
        "metric": task.metric,
        "settings": options.settings(),
        "summary": {arm: {k: v for k, v in row.items() if k != "curve"} for arm, row in summary.items()},
        "comparisons": comparisons,
        "verdict": lines,
        "noise_sweep": sweep,
        "notes": notes,
        "plots": plots,
    }
    (output / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    console.print(f"report: {output / 'report.md'}", highlight=False)
    for line in lines:
        console.print(f"- {line}", highlight=False, markup=False)
    return report
