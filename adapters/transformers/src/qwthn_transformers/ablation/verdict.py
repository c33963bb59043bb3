"""The ablation's questions and how their answers are decided: paired intervals, power, and one consistent verdict.

Each comparison pairs an arm with a control seed by seed (same data order, same initialisation
seed) on two measures: the test metric (higher is better) and validation loss (lower is better).
A measure says 'better' or 'worse' only when the 95% interval of the mean paired difference
excludes 0 (stats.py); a question's answer is 'gain', 'loss', 'mixed' (the two measures disagree)
or 'undecided'. The headline is computed from those answers only, so it can never contradict a
line below it; tests feed synthetic summaries through every path.
"""

from __future__ import annotations

from dataclasses import dataclass

from qwthn_transformers.ablation.stats import MIN_PAIRS, paired

USEFUL_DIFFERENCE = 0.05
"""A test-metric difference worth detecting (5 points of accuracy or exact match): a comparison that could
not detect this much is called uninformative at its seed count."""


@dataclass(frozen=True)
class Question:
    arm: str
    control: str
    text: str
    kind: str
    """'qnn' (the control removes or replaces a QNN), 'baseline' (a classical PEFT baseline), 'structure'
    (another part of the architecture), 'cost' (what sampling, or a smaller classical copy, costs), 'identity'
    (equal by construction)."""


QUESTIONS: tuple[Question, ...] = (
    Question("qwthn", "qwthn-no-qnn", "our QNN vs no QNN (MPO maps only)", "qnn"),
    Question("qwthn", "qwthn-mlp", "our QNN vs a classical MLP of its size", "qnn"),
    Question("qwthn", "qwthn-frozen-qnn", "training our QNN vs a frozen random one", "qnn"),
    Question("qwthn", "qwthn-fourier", "our QNN vs its Fourier features trained from scratch", "qnn"),
    Question("qwthn", "qwthn-no-entanglement", "our circuit vs the same circuit without entangling gates",
             "structure"),
    Question("qwthn", "qwthn-sampled-forward", "exact vs 1000-shot sampled forwards (exact gradients)", "cost"),
    Question("qwthn", "lora-matched-qwthn", "our hybrid vs the LoRA nearest its size", "baseline"),
    Question("qwthn", "lora-r4", "our hybrid vs LoRA r=4", "baseline"),
    Question("qpa", "qpa-classical", "QPA's input-free QNN vs a trained vector in its place", "qnn"),
    Question("qtha", "qtha-mpo-dense", "the authors' QNN vs no QNN, with MPOs (ABC vs AB)", "qnn"),
    Question("qtha-dense-qnn", "qtha-dense", "the authors' QNN vs no QNN, without MPOs (BC vs B)", "qnn"),
    Question("qtha-dense-qnn", "qtha-mlp2", "the authors' QNN vs a 2-layer SiLU MLP (BC vs BD)", "qnn"),
    Question("qtha-dense-qnn", "qtha-mlp3", "the authors' QNN vs a 3-layer SiLU MLP (BC vs BE)", "qnn"),
    Question("qtha-dense-qnn", "qtha-mlp4", "the authors' QNN vs a 4-layer SiLU MLP (BC vs BF)", "qnn"),
    Question("qtha", "qtha-dense-qnn", "the authors' MPOs vs none (ABC vs BC)", "structure"),
    Question("qtha", "qtha-mpo", "the authors' full architecture vs its MPOs alone (ABC vs A)", "structure"),
    Question("qtha", "lora-matched-qtha", "the authors' architecture vs the LoRA nearest its size", "baseline"),
    Question("qtha", "lora-r4", "the authors' architecture vs LoRA r=4", "baseline"),
    Question("qwthn-dequantized", "qwthn", "the trained QNN's exact classical form vs the circuit", "identity"),
    Question("qwthn", "qwthn-rff", "the trained circuit vs a random-Fourier-feature surrogate of its size (fitted to "
             "it, not retrained)", "cost"),
)


def _answer(test: str, loss: str) -> str:
    outcomes = {test, loss}
    if "better" in outcomes and "worse" in outcomes:
        return "mixed"
    if "better" in outcomes:
        return "gain"
    if "worse" in outcomes:
        return "loss"
    return "undecided"


def compare(summary: dict[str, dict]) -> list[dict]:
    """One row per question whose two arms both have seeds: paired intervals on both measures, and the answer."""
    rows = []
    for q in QUESTIONS:
        if q.arm not in summary or q.control not in summary:
            continue
        a, c = summary[q.arm]["per_seed"], summary[q.control]["per_seed"]
        test = paired(a["test_metric"], c["test_metric"])
        loss = paired(a["validation_loss"], c["validation_loss"])
        if test is None or loss is None:
            continue
        test_outcome, loss_outcome = test.outcome(higher_is_better=True), loss.outcome(higher_is_better=False)
        rows.append({
            "arm": q.arm, "control": q.control, "question": q.text, "kind": q.kind,
            "test": test.as_dict(), "validation_loss": loss.as_dict(),
            "test_outcome": test_outcome, "validation_loss_outcome": loss_outcome,
            "answer": _answer(test_outcome, loss_outcome),
            "informative": test.seeds >= MIN_PAIRS and test.detectable <= USEFUL_DIFFERENCE,
        })  # fmt: skip
    return rows


def describe(row: dict, metric: str) -> str:
    """One line: the question, its answer, and the numbers behind it (interval, or what could be detected)."""
    t, v = row["test"], row["validation_loss"]
    numbers = (
        f"{metric} {t['mean']:+.3f} [{t['low']:+.3f}, {t['high']:+.3f}], validation loss {v['mean']:+.4f} "
        f"[{v['low']:+.4f}, {v['high']:+.4f}] (paired over {t['seeds']} seed(s), 95% interval)"
    )
    if t["seeds"] < MIN_PAIRS:
        return (f"{row['question']}: undecided, {t['seeds']} paired seed(s) decide nothing (a comparison needs "
                f"{MIN_PAIRS}; run more --seeds); {numbers}.")  # fmt: skip
    if row["answer"] == "undecided":
        could = f"could detect >= {t['detectable']:.3f} {metric}"
        weak = "; uninformative at this seed count" if not row["informative"] else ""
        return f"{row['question']}: no difference detected ({could}{weak}); {numbers}."
    words = {"gain": "the arm is better", "loss": "the arm is worse",
             "mixed": "the measures disagree (better on one, worse on the other)"}  # fmt: skip
    return f"{row['question']}: {words[row['answer']]}; {numbers}."


def verdict(rows: list[dict], summary: dict[str, dict], metric: str) -> list[str]:
    """Headline lines, then one line per question. The headline reads the rows' answers only."""
    lines = []
    qnn = [r for r in rows if r["kind"] == "qnn"]
    gains = [r for r in qnn if r["answer"] == "gain"]
    losses = [r for r in qnn if r["answer"] == "loss"]
    mixed = [r for r in qnn if r["answer"] == "mixed"]
    if gains:
        lines.append(f"A QNN is better than its classical control in {len(gains)} of {len(qnn)} comparisons: "
                     + "; ".join(r["question"] for r in gains) + ".")  # fmt: skip
    elif qnn:
        paired_enough = [r for r in qnn if r["test"]["seeds"] >= MIN_PAIRS]
        short = len(qnn) - len(paired_enough)
        reach = (f"the least sensitive could detect >= {max(r['test']['detectable'] for r in paired_enough):.3f} "
                 f"{metric}" if paired_enough else f"with fewer than {MIN_PAIRS} paired seeds nothing can be detected")
        if paired_enough and short:
            reach += f"; {short} had fewer than {MIN_PAIRS} paired seeds and decide nothing"
        lines.append(f"No QNN is better than any of its {len(qnn)} classical controls that ran "
                     f"({', '.join(r['control'] for r in qnn)}); {reach}.")  # fmt: skip
    if losses:
        lines.append(f"A QNN is worse than its classical control in {len(losses)} of {len(qnn)} comparisons: "
                     + "; ".join(r["question"] for r in losses) + ".")  # fmt: skip
    if mixed:
        lines.append("The two measures disagree in: " + "; ".join(r["question"] for r in mixed) + ".")
    lines += [describe(row, metric) for row in rows if row["kind"] != "identity"]
    diverged = [arm for arm, row in summary.items() if row.get("status") == "diverged at every rate tried"]
    if diverged:
        lines.append(f"Diverged at every rate tried (no score reported): {', '.join(diverged)}.")
    flagged = [f"{arm} ({row['position']})" for arm, row in summary.items()
               if row.get("position") in ("lowest tried", "highest tried")]  # fmt: skip
    if flagged:
        lines.append("Chosen rate at an edge of the grid after every extension (tuning may be incomplete): "
                     + ", ".join(flagged) + ".")  # fmt: skip
    if "qwthn-dequantized" in summary and "qwthn" in summary and summary["qwthn-dequantized"]["test_metric"]:
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
