"""The paper's claims section: each claim's word follows from our numbers and their paired intervals."""

from __future__ import annotations

from qwthn_transformers.ablation.claims import DOES_NOT_HOLD, HOLDS, UNTESTABLE, claims, claims_text


def arm(params: int, test: list[float], train: list[float]) -> dict:
    return {"trainable_params": params,
            "per_seed": {"test_metric": dict(enumerate(test)), "train_loss": dict(enumerate(train)),
                         "validation_loss": dict(enumerate(train))}}  # fmt: skip


def by_claim(rows: list[dict], arm_name: str) -> dict[str, dict]:
    return {row["claim"].split()[0]: row for row in rows if row["arm"].startswith(arm_name + " ")}


def test_a_smaller_arm_with_clearly_lower_loss_and_higher_accuracy_holds_all_three():
    summary = {"lora-r4": arm(1000, [0.60, 0.62, 0.61], [1.00, 1.02, 0.98]),
               "qtha": arm(200, [0.70, 0.73, 0.71], [0.85, 0.86, 0.84])}  # fmt: skip
    rows = by_claim(claims(summary, "smollm-math"), "qtha")
    assert rows["76%"]["word"] == HOLDS and rows["76%"]["ours"].startswith("80% fewer")
    assert rows["lower"]["word"] == HOLDS and rows["lower"]["ours"].startswith("-14.")
    assert rows["higher"]["word"] == HOLDS


def test_no_difference_or_too_few_seeds_is_not_a_hold():
    summary = {"lora-r4": arm(1000, [0.60, 0.62, 0.61], [1.00, 1.02, 0.98]),
               "qwthn": arm(500, [0.62, 0.60, 0.61], [1.01, 0.99, 0.99]),
               "qtha": arm(240, [0.7, 0.7], [0.8, 0.8])}  # fmt: skip
    rows = claims(summary, "smollm-math")
    ours = by_claim(rows, "qwthn")
    assert ours["76%"]["word"] == DOES_NOT_HOLD and ours["76%"]["ours"].startswith("50% fewer")
    assert ours["lower"]["word"] == DOES_NOT_HOLD and ours["higher"]["word"] == DOES_NOT_HOLD
    theirs = by_claim(rows, "qtha")
    assert theirs["76%"]["word"] == HOLDS  # 76% fewer exactly
    assert theirs["higher"]["word"] == UNTESTABLE and "2 paired seed(s)" in theirs["higher"]["why"]


def test_the_accuracy_claim_is_untestable_off_math_and_the_section_needs_lora():
    summary = {"lora-r4": arm(1000, [0.9, 0.9, 0.9], [0.3, 0.3, 0.3]), "qwthn": arm(100, [0.9] * 3, [0.3] * 3)}
    rows = by_claim(claims(summary, "minilm"), "qwthn")
    assert rows["higher"]["word"] == UNTESTABLE and "not math" in rows["higher"]["why"]
    assert claims({"qwthn": summary["qwthn"]}, "minilm") == []
    text = "\n".join(claims_text(claims(summary, "minilm"), "minilm"))
    assert "## The paper's claims, replayed" in text and "not of quantum hardware" in text
