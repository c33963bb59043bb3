"""The ablation report: the protocol's choices per arm, seeds at the chosen rate, paired comparisons, plots, JSON.

An arm's row is its seeds at the rate its search chose on validation loss (protocol.py); diverged
units are listed, never averaged. Questions are decided by paired 95% intervals (verdict.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console

from qwthn_transformers.ablation.claims import claims, claims_text
from qwthn_transformers.ablation.field import field_plot, ranking, ranking_text
from qwthn_transformers.ablation.plan import Plan
from qwthn_transformers.ablation.protocol import RATIO_LIMIT, RELAPSE_LIMIT, SENSITIVITY_LIMITS, Trial, choice_under
from qwthn_transformers.ablation.stats import MIN_PAIRS
from qwthn_transformers.ablation.verdict import compare, describe, verdict
from qwthn_transformers.dequantize import spectrum_line

MEASURES = ("test_metric", "validation_loss", "train_loss", "step_seconds", "peak_memory_mib")


def _stats(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def summarise(results: dict[str, dict]) -> dict[str, dict]:
    """Per arm: its search, its chosen rate and where it lies, per-seed values and mean/std of the scored seeds."""
    summary = {}
    for arm, found in results.items():
        chosen, search = found["chosen"], found["search"]
        scored = [unit for unit in chosen if not unit.get("diverged")]
        first = (chosen or search or [{}])[0]
        row = {
            "label": first.get("label", ""),
            "trainable_params": first.get("trainable_params"),
            "seeds": len(scored),
            "learning_rate": chosen[0]["learning_rate"] if chosen else None,
            "position": found["position"],
            "search": [_search_entry(u) for u in sorted(search, key=lambda u: u["learning_rate"])],
            "diverged_seeds": {unit["seed"]: unit["diverged"] for unit in chosen if unit.get("diverged")},
            "status": "diverged at every rate tried" if search and not chosen else "trained",
            "rate_by_ratio_limit": _rate_by_limit(search),
            "per_seed": {
                key: {u["seed"]: u[key] for u in scored if u.get(key) is not None}
                for key in ("test_metric", "validation_loss", "train_loss")
            },
        }
        for key in MEASURES:
            values = [u[key] for u in scored if u.get(key) is not None]
            row[key] = _stats(values) if values else None
        for key in ("inference_seconds", "inference_seconds_of_source", "source_params", "max_abs_difference"):
            if scored and key in scored[0]:
                values = [u[key] for u in scored]
                row[key] = max(values) if key == "max_abs_difference" else _stats(values)
        robust = [u["robustness"] for u in scored if u.get("robustness")]
        if robust:
            row["robustness"] = {kind: _stats([r[kind] for r in robust]) for kind in robust[0]}
        row["curve"] = _mean_curve([u["losses"] for u in scored if u.get("losses")])
        ratio = next((u.get("update_ratio") for u in scored if u["seed"] == 0), None)
        row["update_ratio"] = ratio or {"steps": [], "max_over_layers": []}
        summary[arm] = row
    return summary


def _rate_by_limit(search: list[dict]) -> dict[str, float | None]:
    """The rate each ratio limit would choose among the runs made (the JSON keys are the limits, 'inf' for none)."""
    if not search:
        return {}
    found = [Trial(u["learning_rate"], _finite(u.get("validation_loss")), u["diverged"]) for u in search]
    ratios = [u.get("max_update_ratio") for u in search]
    picks = {f"{limit:g}": choice_under(found, ratios, limit) for limit in SENSITIVITY_LIMITS}
    return {limit: pick.learning_rate if pick else None for limit, pick in picks.items()}


def _finite(value: float | None) -> float:
    return value if value is not None else math.inf


def limit_sensitivity(summary: dict[str, dict]) -> str:
    """One paragraph: whose chosen rate another update-ratio limit would change, among the runs made."""
    changed = []
    for arm, row in summary.items():
        by_limit = row.get("rate_by_ratio_limit") or {}
        here = by_limit.get(f"{RATIO_LIMIT:g}")
        others = [f"{'no limit' if limit == 'inf' else limit + 'x'}: {_rate_text(rate)}"
                  for limit, rate in by_limit.items() if rate != here]  # fmt: skip
        if others:
            changed.append(f"{arm} ({_rate_text(here)} here; " + ", ".join(others) + ")")
    limits = ", ".join("no limit" if math.isinf(x) else f"{x:g}x" for x in SENSITIVITY_LIMITS if x != RATIO_LIMIT)
    head = (f"Does the divergence limit decide a choice? Each arm's tuning runs re-read under update-ratio limits "
            f"of {limits} (the other divergence reasons kept; an extension another limit would have led to is not "
            "run): ")  # fmt: skip
    return head + ("no arm's chosen rate changes." if not changed else "; ".join(changed) + ".")


def _rate_text(rate: float | None) -> str:
    return "none usable" if rate is None else f"{rate:g}"


def _search_entry(unit: dict) -> dict:
    keys = ("learning_rate", "validation_loss", "diverged", "max_update_ratio")
    return {key: unit.get(key) for key in keys}


def _mean_curve(curves: list[list[float]]) -> list[float]:
    if not curves:
        return []
    length = min(len(curve) for curve in curves)
    return [sum(curve[i] for curve in curves) / len(curves) for i in range(length)]


def _fmt(stat, digits: int = 3, scale: float = 1.0) -> str:
    if stat is None:
        return "-"
    mean, std = stat
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def _region(row: dict) -> tuple[str, str]:
    """(rates where the arm trained, rates where it diverged, with the first reason)."""
    trained = [f"{u['learning_rate']:g}" for u in row["search"] if not u["diverged"]]
    diverged = [u for u in row["search"] if u["diverged"]]
    reason = f" ({diverged[-1]['diverged']})" if diverged else ""
    return ", ".join(trained) or "none", (", ".join(f"{u['learning_rate']:g}" for u in diverged) or "none") + reason


def _legend(axis) -> None:
    if axis.get_legend_handles_labels()[0]:  # an arm with nothing to draw (diverged everywhere) has no entry
        axis.legend(fontsize=6, ncol=2)


def _plots(output: Path, summary: dict[str, dict], sweep: list[dict] | None, metric: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    files = []
    arms = [arm for arm in summary if summary[arm]["test_metric"] is not None]
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
    _legend(axis)
    figure.tight_layout()
    figure.savefig(output / "loss_curves.png", dpi=110)
    plt.close(figure)
    files.append("loss_curves.png")
    figure, axis = plt.subplots(figsize=(7, 4))
    for arm, row in summary.items():
        ratio = row["update_ratio"]
        if ratio["steps"]:
            axis.plot(ratio["steps"], ratio["max_over_layers"], label=arm)
    axis.axhline(5.0, color="red", linestyle="--", linewidth=0.8, label="divergence limit")
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("max over layers of |ΔW x| / |W x| (chosen rate, seed 0)")
    _legend(axis)
    figure.tight_layout()
    figure.savefig(output / "update_ratio.png", dpi=110)
    plt.close(figure)
    files.append("update_ratio.png")
    figure, axis = plt.subplots(figsize=(7, 4))
    for arm, row in summary.items():
        search = row["search"]
        if not search:
            continue
        (line,) = axis.plot([u["learning_rate"] for u in search if not u["diverged"]],
                            [u["validation_loss"] for u in search if not u["diverged"]], marker="o", label=arm)
        bad = [u["learning_rate"] for u in search if u["diverged"]]
        if bad:
            top = max([u["validation_loss"] for u in search if not u["diverged"]] or [1.0])
            axis.scatter(bad, [top] * len(bad), marker="x", color=line.get_color())
    axis.set_xscale("log")
    axis.set_xlabel("learning rate (x: diverged)")
    axis.set_ylabel("validation loss (seed 0)")
    _legend(axis)
    figure.tight_layout()
    figure.savefig(output / "rate_search.png", dpi=110)
    plt.close(figure)
    files.append("rate_search.png")
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


def _protocol_text(plan: Plan) -> list[str]:
    options, task = plan.options, plan.task
    search = options.rate_search
    head = ""
    if task.name == "minilm":
        from qwthn_transformers.ablation.tasks import HEAD_LEARNING_RATE

        head = (f" The classifier head trains in its own parameter group at {HEAD_LEARNING_RATE:g} in every arm "
                "(chosen on validation with no adapter), whatever the adapter's rate.")  # fmt: skip
    return [
        f"Protocol: every arm gets the same {search.budget} tuning runs (seed 0, {task.steps} steps of batch "
        f"{task.batch_size}, the same schedule and data order for every arm): {search.points} learning rates "
        f"log-spaced over {search.decades:g} decades around its recipe rate, then {search.extensions} more by one "
        "rule (extend the grid while the best rate is at its edge, else refine towards the better neighbour). "
        "The rate with the lowest validation loss among runs that did not diverge is chosen; seeds "
        f"1..{options.seeds - 1} then train at it. A unit diverged when a value went non-finite, its update "
        f"outgrew {RATIO_LIMIT:g}x the frozen layer's output, or its training loss ended above where it started "
        f"or climbed back to {RELAPSE_LIMIT:g}x its best; diverged units "
        "are listed, never scored. The test split is evaluated for the chosen units only and chooses nothing. "
        "LoRA arms use alpha = 2r." + head,
        "",
        "Comparisons pair arm and control seed by seed (same data order and initialisation seed): the mean paired "
        "difference with its 95% t interval; 'better' or 'worse' only when the interval excludes 0, otherwise "
        "'no difference detected' with the smallest difference these seeds could detect (80% power); fewer than "
        f"{MIN_PAIRS} paired seeds (an arm whose seed diverged loses its pair) decide nothing. The intervals cover "
        "seed-to-seed variation on one fixed test split, not the sampling error of that split itself.",
    ]


def _robustness_text(summary: dict[str, dict], base: dict | None, metric: str) -> list[str]:
    """The base model before fine-tuning, and each arm's accuracy on the rewritten test problems."""
    if base is None:
        return []
    kinds = list(base.get("robustness", {}))
    md = ["", "## Base model and robustness", "",
          f"Before any fine-tuning the base model scores {base['test_metric']:.3f} test {metric}. The robustness "
          "set rewrites test problems (the question first, an irrelevant number added, a question about another "
          "quantity); it is measured on the chosen units only and never chooses anything.", "",
          f"| arm | test {metric} | " + " | ".join(kinds) + " |", "| --- | ---: |" + " ---: |" * len(kinds),
          f"| base model (no adapter) | {base['test_metric']:.3f} | "
          + " | ".join(f"{base['robustness'][kind]:.3f}" for kind in kinds) + " |"]  # fmt: skip
    for arm, row in summary.items():
        robust = row.get("robustness")
        if robust:
            md.append(f"| {arm} | {_fmt(row['test_metric'])} | " + " | ".join(_fmt(robust.get(kind)) for kind in kinds)
                      + " |")  # fmt: skip
    return md


def write_report(
    plan: Plan, results: dict[str, dict], notes: list[str], sweep, console: Console, base: dict | None = None
) -> dict:
    options, task = plan.options, plan.task
    summary = summarise(results)
    comparisons = compare(summary)
    lines = verdict(comparisons, summary, task.metric)
    output = options.output
    plots = _plots(output, summary, sweep, task.metric)
    headline = [line for line in lines if not any(line == describe(row, task.metric) for row in comparisons)]
    md = [
        f"# Ablation: {task.description}",
        "",
        *_protocol_text(plan),
        "",
        "## Verdict",
        "",
        *[f"- {line}" for line in headline],
        "",
        "## Arms",
        "",
        f"| arm | what it isolates | trainable params | chosen rate | where in its grid | seeds scored | test "
        f"{task.metric} | validation loss | train loss | step time (ms) | RSS growth in training (MiB) |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    questions = {arm.name: arm.question for arm in plan.arms}
    for arm, row in summary.items():
        rate = f"{row['learning_rate']:g}" if row["learning_rate"] is not None else "-"
        params = f"{row['trainable_params']:,}" if row["trainable_params"] is not None else "-"
        md.append(
            f"| {arm} | {questions.get(arm, '')} | {params} | {rate} | {row['position']} | {row['seeds']} | "
            f"{_fmt(row['test_metric'])} | {_fmt(row['validation_loss'], 4)} | {_fmt(row['train_loss'], 4)} | "
            f"{_fmt(row['step_seconds'], 1, 1e3)} | {_fmt(row['peak_memory_mib'], 0)} |"
        )
    md += [
        "",
        "## Rate search (seed 0)",
        "",
        "| arm | trains at | diverged at | validation loss by rate | max update / frozen output at the chosen rate |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for arm, row in summary.items():
        if not row["search"]:
            continue
        trains, diverges = _region(row)
        by_rate = ", ".join(
            f"{u['learning_rate']:g}: " + ("diverged" if u["diverged"] else f"{u['validation_loss']:.4f}")
            for u in row["search"]
        )
        chosen = next((u for u in row["search"] if u["learning_rate"] == row["learning_rate"]), None)
        ratio = f"{chosen['max_update_ratio']:.2f}" if chosen and chosen["max_update_ratio"] is not None else "-"
        md.append(f"| {arm} | {trains} | {diverges} | {by_rate} | {ratio} |")
    seeds_lost = [f"{arm} seed {seed}: {why}" for arm, row in summary.items()
                  for seed, why in row["diverged_seeds"].items()]  # fmt: skip
    if seeds_lost:
        md += ["", "Seeds that diverged at their arm's chosen rate (not scored): " + "; ".join(seeds_lost) + "."]
    if any(row["search"] for row in summary.values()):
        md += ["", limit_sensitivity(summary)]
    md += [
        "",
        "## Comparisons",
        "",
        f"| question | arm - control: test {task.metric} [95% interval] | could detect | validation loss "
        "difference [95% interval] | answer |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for c in comparisons:
        t, v = c["test"], c["validation_loss"]
        short = t["seeds"] < MIN_PAIRS
        answer = c["answer"] if c["answer"] != "undecided" else "no difference detected"
        if short:
            answer = f"undecided: {t['seeds']} paired seed(s)"
        could = "-" if short else f"{t['detectable']:.3f}"
        md.append(
            f"| {c['question']} | {t['mean']:+.3f} [{t['low']:+.3f}, {t['high']:+.3f}] | {could} | "
            f"{v['mean']:+.4f} [{v['low']:+.4f}, {v['high']:+.4f}] | {answer} |"
        )
    md += ["", *[f"- {describe(c, task.metric)}" for c in comparisons if c["kind"] != "identity"]]
    if "qwthn-dequantized" in summary and summary["qwthn-dequantized"]["seeds"]:
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
        meters = [u["spectrum"] for u in results["qwthn-dequantized"]["chosen"] if u.get("spectrum")]
        if meters:
            worst = max(meters, key=lambda m: (m["terms_for_share"], m["max_order"]))
            md += ["", f"Quantumness meter (the most demanding seed and layer): {spectrum_line(worst)}."]
    claim_rows = claims(summary, task.name)
    md += claims_text(claim_rows, task.name)
    families = {arm.name: arm.kind for arm in plan.arms}
    field_rows = ranking(summary, families)
    md += ranking_text(field_rows, task.metric)
    picture = field_plot(output, summary, families, task.metric)
    if picture:
        plots.append(picture)
    md += _robustness_text(summary, base, task.metric)
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
        "base_model": base,
        "claims": claim_rows,
        "field": field_rows,
        "notes": notes,
        "plots": plots,
    }
    (output / "report.json").write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
    console.print(f"report: {output / 'report.md'}", highlight=False)
    for line in headline:
        console.print(f"- {line}", highlight=False, markup=False)
    return json.loads((output / "report.json").read_text(encoding="utf-8"))


def _jsonable(value):
    """Infinite interval ends (one seed) as strings: JSON has no infinity, and the report must parse anywhere."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
