"""The paper's three claims (arXiv 2503.12790), each replayed against LoRA r=4 on this report's data.

One row per claim and arm: the paper's figure, ours (with its paired 95% interval over seeds), and one
word: "holds", "does not hold at this scale", or "cannot be tested here" with the reason. The paper's
method is the authors' architecture (`qtha`); our variant (`qwthn`) is shown beside it. A claim holds
only when our interval lies wholly on the claimed side of no difference; the size of the paper's
figure is printed, not required, since a smaller model and task can shrink an effect that exists.
"""

from __future__ import annotations

from qwthn_transformers.ablation.stats import MIN_PAIRS, paired

BASELINE = "lora-r4"
ARMS = (("qtha", "the authors' architecture"), ("qwthn", "our variant"))
PARAMETER_CLAIM = 0.76
HOLDS, DOES_NOT_HOLD, UNTESTABLE = "holds", "does not hold at this scale", "cannot be tested here"
MATH_TASKS = ("demo", "smollm-math")
"""Tasks whose metric is math accuracy (the demo's model is tiny and pre-trained here; smollm-math's is real)."""


def _parameters(arm: dict, base: dict) -> dict:
    fewer = 1 - arm["trainable_params"] / base["trainable_params"]
    counts = f"({arm['trainable_params']:,} vs {base['trainable_params']:,})"
    ours = f"{fewer:.0%} fewer {counts}" if fewer >= 0 else f"{-fewer:.0%} more {counts}"
    if fewer >= PARAMETER_CLAIM - 0.005:
        return {"ours": ours, "word": HOLDS, "why": ""}
    return {"ours": ours, "word": DOES_NOT_HOLD, "why": "fewer than the 76% claimed, on this model's shapes"}


def _decided(result, higher_is_better: bool, unit: str, scale: float = 1.0) -> dict:
    if result is None or result.seeds < MIN_PAIRS:
        seeds = 0 if result is None else result.seeds
        return {"ours": "-", "word": UNTESTABLE, "why": f"{seeds} paired seed(s); a comparison needs {MIN_PAIRS}"}
    text = f"{result.mean * scale:+.3f}{unit} [{result.low * scale:+.3f}, {result.high * scale:+.3f}]"
    claimed_side = result.low > 0 if higher_is_better else result.high < 0
    why = "" if claimed_side else "the paired interval is not wholly on the claimed side of no difference"
    return {"ours": f"{text} over {result.seeds} seeds", "word": HOLDS if claimed_side else DOES_NOT_HOLD, "why": why}


def claims(summary: dict[str, dict], task_name: str) -> list[dict]:
    """The claim rows for every arm of ARMS present beside LoRA r=4 (none without LoRA r=4)."""
    base = summary.get(BASELINE)
    rows: list[dict] = []
    if base is None:
        return rows
    for name, role in ARMS:
        arm = summary.get(name)
        if arm is None:
            continue
        label = f"{name} ({role})"
        rows.append({"claim": "76% fewer trainable parameters than LoRA r=4", "arm": label,
                     "paper": "76% fewer", **_parameters(arm, base)})  # fmt: skip
        relative = {seed: (arm["per_seed"]["train_loss"][seed] - loss) / loss
                    for seed, loss in base["per_seed"].get("train_loss", {}).items()
                    if seed in arm["per_seed"].get("train_loss", {}) and loss}  # fmt: skip
        rows.append({"claim": "lower training loss than LoRA r=4 at the same steps", "arm": label,
                     "paper": "15-17% lower",
                     **_decided(paired(relative, dict.fromkeys(relative, 0.0)), False, "%", 100)})  # fmt: skip
        accuracy = {"claim": "higher held-out math accuracy than LoRA r=4", "arm": label, "paper": "68% -> 82%"}
        if task_name not in MATH_TASKS:
            rows.append({**accuracy, "ours": "-", "word": UNTESTABLE, "why": "this task is not math reasoning"})
            continue
        result = paired(arm["per_seed"]["test_metric"], base["per_seed"]["test_metric"])
        rows.append({**accuracy, **_decided(result, True, "")})
    return rows


def claims_text(rows: list[dict], task_name: str) -> list[str]:
    """The report's claims section (markdown lines); empty without LoRA r=4 or the paper's arms."""
    if not rows:
        return []
    setting = {"smollm-math": "a real pretrained LLM (SmolLM2-135M, 4-bit weights dequantized) on math word problems",
               "demo": "a tiny causal LM pre-trained here (not a real LLM) on math word problems",
               }.get(task_name, f"task {task_name}")  # fmt: skip
    md = ["", "## The paper's claims, replayed", "",
          f"Setting: {setting}. Training loss is the mean of the last 10% of steps, compared per seed as a "
          "relative difference; accuracy is the test metric's paired difference (fraction, not points). Every "
          "arm ran on a classical computer: a 'holds' is a property of the algorithm, not of quantum hardware.",
          "", "| claim | arm | paper | ours [95% interval] | verdict |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for row in rows:
        verdict = row["word"] + (f" ({row['why']})" if row["why"] else "")
        md.append(f"| {row['claim']} | {row['arm']} | {row['paper']} | {row['ours']} | {verdict} |")
    return md
