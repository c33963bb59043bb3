"""LoRA matched to an arm's parameter count within 5% through per-module ranks, at any budget."""

from __future__ import annotations

import pytest
from tiny_models import tiny_qwen2

from qwthn import LoRAConfig
from qwthn.model import inject_adapter
from qwthn_transformers.ablation.arms import MATCH_TOLERANCE, matched_lora

COSTS = [(f"model.layers.{i}.self_attn.{m}", cost) for i in range(4) for m, cost in (("q_proj", 128), ("v_proj", 96))]
TOTAL = sum(cost for _, cost in COSTS)  # 896 per unit of rank


def count(adapter: dict) -> int:
    """What the adapter's ranks cost on the modules of COSTS."""
    config = LoRAConfig(**{key: value for key, value in adapter.items() if key != "method"})
    wanted = config.target_modules
    selected = [(n, c) for n, c in COSTS if n in wanted or any(n.endswith("." + t) for t in wanted)]
    return sum(layer.r * cost for layer, (_, cost) in zip(config.layer_configs([n for n, _ in selected]), selected,
                                                           strict=True))  # fmt: skip


@pytest.mark.parametrize("target", [300, 450, 896, 1500, 2718, 5000, 40_000])
def test_every_budget_above_one_module_is_matched_within_5_percent(target):
    arm = matched_lora("x", target, COSTS)
    assert "size_gap" not in arm.extra
    assert abs(count(arm.adapter) - target) <= MATCH_TOLERANCE * target
    adapter = arm.adapter
    for key, rank in adapter.get("rank_pattern", {}).items():  # the scale alpha/r is the same in every module
        assert adapter["alpha_pattern"][key] / rank == adapter["alpha"] / adapter["r"]


def test_a_budget_below_the_smallest_module_is_flagged_not_dropped():
    arm = matched_lora("x", 40, COSTS)
    assert arm.extra["size_gap"] == "+140%" and "not within 5%" in arm.question
    assert arm.adapter["target_modules"] == ["model.layers.0.self_attn.v_proj"]


def test_the_matched_config_counts_the_same_on_a_real_model():
    model = tiny_qwen2()
    modules = dict(model.named_modules())
    base = inject_adapter(tiny_qwen2(), LoRAConfig(r=1))
    costs = [(n, modules[n].in_features + modules[n].out_features) for n in base.targets]
    for target in (base.trainable_params * 2 // 3, base.trainable_params * 5 // 2):
        arm = matched_lora("x", target, costs)
        adapter = {key: value for key, value in arm.adapter.items() if key != "method"}
        report = inject_adapter(tiny_qwen2(), LoRAConfig(**adapter))
        assert f"{report.trainable_params:,}" in arm.question  # the count it states is the model's own
        within = abs(report.trainable_params - target) <= MATCH_TOLERANCE * target
        assert within != ("size_gap" in arm.extra), (target, report.trainable_params, arm.question)
