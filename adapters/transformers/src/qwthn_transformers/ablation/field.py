"""The whole field on one task: every arm's held-out metric against its trainable parameters, and a ranking.

The ranking pairs each arm with LoRA r=4 seed by seed (stats.paired), so its interval is the same kind
as the verdict's. The Pareto front is the set of arms no other arm beats on both axes (at least as good
a metric with at most as many parameters, better on one). 'quantum' arms are hybrids whose circuits are
emulated exactly on a classical computer here: the family names where a method comes from, not hardware.
"""

from __future__ import annotations

from pathlib import Path

from qwthn_transformers.ablation.stats import MIN_PAIRS, paired

BASELINE = "lora-r4"
LEGEND = {"quantum": "quantum (circuit emulated classically)"}
FAMILY_STYLE = {"classical": ("tab:blue", "o"), "quantum": ("tab:red", "s"), "quantum-inspired": ("tab:green", "^")}


def _scored(summary: dict[str, dict]) -> list[str]:
    return [arm for arm, row in summary.items() if row.get("test_metric") and row.get("trainable_params")]


def pareto_front(points: dict[str, tuple[int, float]]) -> list[str]:
    """Arms not dominated by another (fewer-or-equal parameters and higher-or-equal metric, strictly one of them)."""

    def dominated(name: str) -> bool:
        size, score = points[name]
        return any(other != name and s <= size and m >= score and (s < size or m > score)
                   for other, (s, m) in points.items())  # fmt: skip

    return sorted((name for name in points if not dominated(name)), key=lambda name: points[name][0])


def ranking(summary: dict[str, dict], families: dict[str, str]) -> list[dict]:
    """Every scored arm but the baseline, by its mean paired test difference against LoRA r=4 (best first)."""
    base = summary.get(BASELINE)
    if base is None:
        return []
    points = {arm: (summary[arm]["trainable_params"], summary[arm]["test_metric"][0]) for arm in _scored(summary)}
    front = set(pareto_front(points))
    rows = []
    for arm in _scored(summary):
        if arm == BASELINE:
            continue
        result = paired(summary[arm]["per_seed"]["test_metric"], base["per_seed"]["test_metric"])
        rows.append({"arm": arm, "family": families.get(arm, "classical"),
                     "trainable_params": summary[arm]["trainable_params"], "test_metric": summary[arm]["test_metric"],
                     "paired": result.as_dict() if result else None,
                     "outcome": result.outcome() if result else "undecided", "pareto": arm in front})  # fmt: skip
    return sorted(rows, key=lambda row: -(row["paired"]["mean"] if row["paired"] else float("-inf")))


def ranking_text(rows: list[dict], metric: str) -> list[str]:
    if not rows:
        return []
    md = ["", "## The field: every arm against LoRA r=4", "",
          f"Ranked by the mean paired difference in test {metric} against LoRA r=4 (seed by seed, 95% t interval); "
          "'on the front': no other arm has at least its metric with at most its parameters. 'quantum' arms run "
          "their circuits on an exact classical emulator.", "",
          f"| rank | arm | family | trainable params | test {metric} | minus LoRA r=4 [95% interval] | answer | "
          "on the front |", "| ---: | --- | --- | ---: | ---: | ---: | --- | --- |"]  # fmt: skip
    for rank, row in enumerate(rows, 1):
        p = row["paired"]
        difference = f"{p['mean']:+.3f} [{p['low']:+.3f}, {p['high']:+.3f}]" if p and p["seeds"] > 1 else (
            f"{p['mean']:+.3f}" if p else "-")  # fmt: skip
        answer = row["outcome"] if p and p["seeds"] >= MIN_PAIRS else f"undecided: {p['seeds'] if p else 0} paired " \
            "seed(s)"
        mean, std = row["test_metric"]
        md.append(f"| {rank} | {row['arm']} | {row['family']} | {row['trainable_params']:,} | {mean:.3f} ± {std:.3f} | "
                  f"{difference} | {answer} | {'yes' if row['pareto'] else ''} |")  # fmt: skip
    return md


def field_plot(output: Path, summary: dict[str, dict], families: dict[str, str], metric: str) -> str | None:
    """Test metric (mean ± std over seeds) against trainable parameters, log scale, the Pareto front drawn."""
    arms = _scored(summary)
    if len(arms) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    shown = set()
    for arm in arms:
        family = families.get(arm, "classical")
        color, marker = FAMILY_STYLE.get(family, ("tab:gray", "x"))
        mean, std = summary[arm]["test_metric"]
        axis.errorbar(summary[arm]["trainable_params"], mean, yerr=std, fmt=marker, color=color, capsize=3,
                      label=None if family in shown else LEGEND.get(family, family))  # fmt: skip
        shown.add(family)
        axis.annotate(arm, (summary[arm]["trainable_params"], mean), fontsize=7, xytext=(4, 3),
                      textcoords="offset points")  # fmt: skip
    points = {arm: (summary[arm]["trainable_params"], summary[arm]["test_metric"][0]) for arm in arms}
    front = pareto_front(points)
    axis.step([points[a][0] for a in front], [points[a][1] for a in front], where="post", color="black",
              linewidth=0.8, linestyle="--", label="Pareto front")  # fmt: skip
    axis.set_xscale("log")
    axis.set_xlabel("trainable parameters (log scale)")
    axis.set_ylabel(f"test {metric} (mean ± std over seeds)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(output / "field.png", dpi=110)
    plt.close(figure)
    return "field.png"
