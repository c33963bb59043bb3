"""The field section: the Pareto front, the ranking against LoRA r=4 and its plot, on synthetic summaries."""

from __future__ import annotations

from qwthn_transformers.ablation.field import field_plot, pareto_front, ranking, ranking_text


def row(params: int, per_seed: dict[int, float]) -> dict:
    values = list(per_seed.values())
    mean = sum(values) / len(values)
    return {"trainable_params": params, "test_metric": (mean, 0.01), "per_seed": {"test_metric": per_seed}}


SUMMARY = {
    "lora-r4": row(4_000, {0: 0.50, 1: 0.52, 2: 0.51}),
    "qwthn": row(1_000, {0: 0.55, 1: 0.58, 2: 0.56}),  # better and smaller: on the front
    "dora": row(1_000, {0: 0.40, 1: 0.41, 2: 0.43}),  # same size, worse: dominated by qwthn
    "vera": row(300, {0: 0.45, 1: 0.50, 2: 0.49}),  # smallest: on the front whatever its metric
    "big": row(50_000, {0: 0.70, 1: 0.71, 2: 0.72}),  # best metric: on the front
}
FAMILIES = {"qwthn": "quantum", "dora": "classical", "vera": "classical", "big": "classical", "lora-r4": "classical"}


def test_the_pareto_front_keeps_exactly_the_undominated_arms_in_size_order():
    points = {arm: (r["trainable_params"], r["test_metric"][0]) for arm, r in SUMMARY.items()}
    assert pareto_front(points) == ["vera", "qwthn", "big"]


def test_the_ranking_orders_by_paired_difference_and_decides_only_where_the_interval_excludes_zero():
    rows = ranking(SUMMARY, FAMILIES)
    assert [r["arm"] for r in rows] == ["big", "qwthn", "vera", "dora"]
    by_arm = {r["arm"]: r for r in rows}
    assert by_arm["big"]["outcome"] == "better" and by_arm["dora"]["outcome"] == "worse"
    assert by_arm["vera"]["outcome"] == "undecided"  # -0.03 on average; three seeds this spread cannot exclude 0
    assert by_arm["qwthn"]["family"] == "quantum" and by_arm["qwthn"]["pareto"] and not by_arm["dora"]["pareto"]
    text = "\n".join(ranking_text(rows, "accuracy"))
    assert "| 1 | big | classical | 50,000 | 0.710 ± 0.010 | +0.200 [" in text


def test_without_lora_r4_there_is_no_ranking_and_the_plot_is_drawn(tmp_path):
    assert ranking({k: v for k, v in SUMMARY.items() if k != "lora-r4"}, FAMILIES) == []
    assert field_plot(tmp_path, SUMMARY, FAMILIES, "accuracy") == "field.png"
    assert (tmp_path / "field.png").stat().st_size > 10_000


def test_the_field_calls_an_arm_quantum_only_when_it_runs_a_circuit():
    """Controls of the hybrids are selected with them (--arms quantum) but are classical methods, and the field
    must not draw the authors' MPO-only variant or a dequantized circuit as a quantum arm."""
    from qwthn_transformers.ablation.arms import ARMS

    kinds = {arm.name: arm.kind for arm in ARMS}
    assert {name for name, kind in kinds.items() if kind == "quantum"} == {
        "qtha", "qtha-dense-qnn", "qtha-qnn", "qwthn", "qwthn-frozen-qnn", "qwthn-no-entanglement",
        "qwthn-sampled-forward"}  # fmt: skip
    assert kinds["qtha-mpo"] == kinds["qwthn-dequantized"] == kinds["qwthn-rff"] == kinds["lora-r4"] == "classical"
    assert {arm.family for arm in ARMS if arm.name in ("qtha-mpo", "qwthn-no-qnn")} == {"quantum"}  # selection
