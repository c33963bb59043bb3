"""The verdict logic on synthetic summaries: every question can say gain, loss or undecided; the headline agrees."""

from __future__ import annotations

import pytest

from qwthn_transformers.ablation.stats import paired
from qwthn_transformers.ablation.verdict import QUESTIONS, compare, describe, verdict


def arm(test: list[float], loss: list[float]) -> dict:
    return {
        "per_seed": {"test_metric": dict(enumerate(test)), "validation_loss": dict(enumerate(loss))},
        "test_metric": (sum(test) / len(test), 0.0),
        "status": "trained",
        "position": "inside",
    }


BASE_TEST, BASE_LOSS = [0.50, 0.52, 0.48, 0.51], [1.00, 1.01, 0.99, 1.00]
NOISE = [0.004, -0.003, 0.001, -0.002]


def summary_with(question, shift_test: float, shift_loss: float) -> dict[str, dict]:
    """The question's control at the base values; its arm shifted (plus seed noise so intervals have width)."""
    return {
        question.control: arm(BASE_TEST, BASE_LOSS),
        question.arm: arm(
            [b + shift_test + n for b, n in zip(BASE_TEST, NOISE, strict=True)],
            [b + shift_loss + n for b, n in zip(BASE_LOSS, NOISE, strict=True)],
        ),
    }


ASKED = [q for q in QUESTIONS if q.kind != "identity"]


@pytest.mark.parametrize("question", ASKED, ids=lambda q: f"{q.arm}-vs-{q.control}")
@pytest.mark.parametrize(
    "shift_test, shift_loss, answer",
    [(0.30, -0.2, "gain"), (-0.30, 0.2, "loss"), (0.0, 0.0, "undecided"), (0.30, 0.2, "mixed")],
)
def test_each_question_can_answer_gain_loss_mixed_and_undecided(question, shift_test, shift_loss, answer):
    summary = summary_with(question, shift_test, shift_loss)
    (row,) = [r for r in compare(summary) if r["arm"] == question.arm and r["control"] == question.control]
    assert row["answer"] == answer
    lines = verdict([row], summary, "accuracy")
    headline = [line for line in lines if line != describe(row, "accuracy")]
    if question.kind == "qnn":  # the headline follows the line below it, never contradicts it
        if answer == "gain":
            assert any(line.startswith("A QNN is better") for line in headline)
            assert not any(line.startswith("No QNN is better") for line in headline)
        else:
            assert any(line.startswith("No QNN is better") for line in headline)
            assert not any(line.startswith("A QNN is better") for line in headline)
        assert any(line.startswith("A QNN is worse") for line in headline) == (answer == "loss")
    else:  # structural and baseline questions never drive the QNN headline
        assert not any(line.startswith(("A QNN is", "No QNN is")) for line in headline)


def test_the_authors_qnn_beating_its_no_qnn_control_is_not_reported_as_no_gain():
    """The regression the issue found: BC vs B better by 0.30, yet the headline said no QNN shows a gain."""
    question = next(q for q in QUESTIONS if (q.arm, q.control) == ("qtha-dense-qnn", "qtha-dense"))
    summary = summary_with(question, 0.30, 0.0)
    rows = compare(summary)
    lines = verdict(rows, summary, "exact match")
    assert rows[0]["answer"] == "gain"
    assert lines[0].startswith("A QNN is better than its classical control in 1 of 1")
    assert not any("No QNN" in line for line in lines)


def test_validation_loss_alone_decides_when_the_test_metric_cannot():
    question = next(q for q in QUESTIONS if q.control == "qwthn-no-qnn")
    summary = summary_with(question, 0.0, -0.2)
    (row,) = compare(summary)
    assert row["test_outcome"] == "undecided" and row["validation_loss_outcome"] == "better"
    assert row["answer"] == "gain"


def test_one_seed_decides_nothing_and_says_so():
    question = ASKED[0]
    summary = {question.control: arm([0.5], [1.0]), question.arm: arm([0.9], [0.5])}
    (row,) = compare(summary)
    assert row["answer"] == "undecided"
    assert "1 paired seed(s) decide nothing" in describe(row, "accuracy")


def test_two_seeds_with_the_same_difference_decide_nothing():
    """Seen on MiniLM: two seeds each 0.016 worse gave an interval of zero width and a 'loss' from 2 numbers."""
    question = ASKED[0]
    summary = {question.control: arm([0.944, 0.950], [0.15, 0.14]), question.arm: arm([0.928, 0.934], [0.25, 0.24])}
    (row,) = compare(summary)
    assert row["answer"] == "undecided" and not row["informative"]
    assert "2 paired seed(s) decide nothing" in describe(row, "accuracy")
    assert not any(line.startswith("A QNN is worse") for line in verdict([row], summary, "accuracy"))


def test_an_undecided_line_states_what_it_could_have_detected():
    question = ASKED[0]
    summary = summary_with(question, 0.0, 0.0)
    (row,) = compare(summary)
    text = describe(row, "accuracy")
    assert "no difference detected (could detect >= " in text
    assert row["test"]["detectable"] == pytest.approx(paired(
        summary[question.arm]["per_seed"]["test_metric"], summary[question.control]["per_seed"]["test_metric"]
    ).detectable)  # fmt: skip


def test_the_paired_interval_matches_a_t_interval_computed_by_hand():
    result = paired({0: 0.6, 1: 0.7, 2: 0.8}, {0: 0.5, 1: 0.5, 2: 0.5})
    # differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, se 0.0577; t(0.975, 2) = 4.303
    assert result.mean == pytest.approx(0.2)
    assert result.low == pytest.approx(0.2 - 4.303 * 0.1 / 3**0.5, abs=1e-4)
    assert result.high == pytest.approx(0.2 + 4.303 * 0.1 / 3**0.5, abs=1e-4)
    assert result.outcome() == "undecided"  # the interval, [-0.048, 0.448], holds 0
    assert paired({0: 0.7, 1: 0.75, 2: 0.8}, {0: 0.5, 1: 0.5, 2: 0.5}).outcome() == "better"  # [0.126, 0.374]
    assert paired({0: 0.6, 1: 0.4}, {0: 0.5, 1: 0.5}).outcome() == "undecided"
