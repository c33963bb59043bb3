"""Quantum-inspired peers as ablation arms, sized to QWTHN's parameter count through their own knobs.

QuanTA (Chen et al., NeurIPS 2024; qwthn's `quanta` method, read from `quanta-fine-tuning/quanta`): its
knob is the list of axes the width is reshaped into. Every non-increasing list of axis sizes (2 to 8
axes of at least 2) whose product holds the widest target module, below twice its width, is a
candidate; the one whose parameter count is nearest the budget is chosen, and its count is then taken
from the model with the adapter attached, never from the formula alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from torch import nn

from qwthn.methods.loading import parse_adapter_config
from qwthn.model.inject import inject_adapter
from qwthn_transformers.ablation.arms import MATCH_TOLERANCE, Arm

INSPIRED = ("quanta",)


def axis_lists(width: int, most: int = 8) -> Iterator[list[int]]:
    """Non-increasing axis sizes >= 2 whose product is in [width, 2 width): every way to hold the width once."""

    def grow(prefix: list[int], product: int, cap: int) -> Iterator[list[int]]:
        if product >= width:
            if len(prefix) >= 2:
                yield list(prefix)
            return
        if len(prefix) == most:
            return
        for size in range(cap, 1, -1):
            if product * size < 2 * width:
                yield from grow([*prefix, size], product * size, size)

    yield from grow([], 1, 2 * width)


def quanta_size(axes: list[int], modules: int) -> int:
    return modules * sum((axes[i] * axes[j]) ** 2 for i, j in itertools.combinations(range(len(axes)), 2))


def quanta_arm(model: nn.Module, targets: list[str], budget: int, modules: dict[str, nn.Linear]) -> Arm:
    import copy

    width = max(max(module.in_features, module.out_features) for module in modules.values())
    axes = min(axis_lists(width), key=lambda a: (abs(quanta_size(a, len(modules)) - budget), len(a)))
    adapter = {"method": "quanta", "axes": axes, "target_modules": targets}
    count = inject_adapter(copy.deepcopy(model), parse_adapter_config(adapter)).trainable_params
    gap = (count - budget) / budget
    question = "QuanTA: dense tensors on pairs of axes of the reshaped width, like two-qudit gates (classical)"
    if abs(gap) <= MATCH_TOLERANCE:
        return Arm("quanta", adapter, "inspired", f"{question}; {count:,} parameters, matched through its axes {axes}",
                   2e-2, extra={"sizing": "matched"})  # fmt: skip
    nearest = f"{question}; the nearest axes {axes} give {count:,} parameters ({gap:+.0%}, not within 5%)"
    return Arm("quanta", adapter, "inspired", nearest, 2e-2, extra={"sizing": "nearest", "size_gap": f"{gap:+.0%}"})


def inspired_arms(model: nn.Module, targets: list[str], budget: int, names: list[str]) -> list[Arm]:
    import re

    modules = {name: module for name, module in model.named_modules() if isinstance(module, nn.Linear)
               and any(re.fullmatch(rf"(.*\.)?{re.escape(target)}", name) for target in targets)}  # fmt: skip
    return [quanta_arm(model, targets, budget, modules)] if "quanta" in names else []
