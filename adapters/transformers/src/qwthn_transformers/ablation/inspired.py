"""The quantum and quantum-inspired peers as ablation arms, sized to QWTHN's parameter count through their own knobs.

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
from qwthn_transformers.ablation.peft_arms import largest_within

INSPIRED = ("quanta", "quantum-peft", "qpa", "qpa-classical")
FAMILY = {"quanta": "inspired", "quantum-peft": "inspired", "qpa": "peer", "qpa-classical": "peer-twin"}
"""Arm groups: QuanTA is classical with circuit structure; QPA runs a real (input-free) QNN; its twin a free vector."""


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


def _count(model: nn.Module, adapter: dict) -> int:
    import copy

    return inject_adapter(copy.deepcopy(model), parse_adapter_config(adapter)).trainable_params


def qpa_arms(model: nn.Module, targets: list[str], budget: int, names: list[str]) -> list[Arm]:
    """QPA (its mapping model's hidden width sized to the budget) and its classical twin at the same width."""
    base = {"method": "qpa", "target_modules": targets, "seed": 0}
    widths = range(1, 513)
    index = largest_within(widths, lambda w: _count(model, {**base, "mapping": [w]}) <= budget)
    candidates = [widths[i] for i in (index, index + 1) if 0 <= i < len(widths)]
    width = min(candidates, key=lambda w: abs(_count(model, {**base, "mapping": [w]}) - budget))
    arms = []
    for name, form, question in (
        ("qpa", "circuit", "QPA-style: LoRA's A, B generated at every step by a QNN with no data input and a linear "
                           "mapping model (ICLR 2025)"),
        ("qpa-classical", "fourier", "QPA's classical twin: the QNN's 2^n probabilities replaced by a trained "
                                     "vector, the same mapping model"),
    ):  # fmt: skip
        if name not in names:
            continue
        adapter = {**base, "mapping": [width], "qnn_form": form}
        count = _count(model, adapter)
        gap = (count - budget) / budget
        sizing = {"sizing": "matched"} if abs(gap) <= MATCH_TOLERANCE else {"sizing": "nearest",
                                                                            "size_gap": f"{gap:+.0%}"}  # fmt: skip
        how = (f"{count:,} parameters, matched through the mapping width {width}" if "size_gap" not in sizing else
               f"the nearest mapping width {width} gives {count:,} parameters ({gap:+.0%}, not within 5%)")  # fmt: skip
        arms.append(Arm(name, adapter, FAMILY[name], f"{question}; {how}", 2e-2, extra=sizing))
    return arms


def quantum_peft_arm(model: nn.Module, targets: list[str], budget: int) -> Arm:
    """Quantum-PEFT-style (rank 4), its circuits' depth sized to the budget."""
    base = {"method": "quantum-peft", "target_modules": targets, "r": 4, "seed": 0}
    depths = range(1, 257)
    index = largest_within(depths, lambda depth: _count(model, {**base, "layers": depth}) <= budget)
    candidates = [depths[i] for i in (index, index + 1) if 0 <= i < len(depths)]
    depth = min(candidates, key=lambda d: abs(_count(model, {**base, "layers": d}) - budget))
    adapter = {**base, "layers": depth}
    count = _count(model, adapter)
    gap = (count - budget) / budget
    question = ("Quantum-PEFT-style: U diag(s) V^T with U, V columns of RY + CNOT circuit unitaries on log2(width) "
                "qubits, simulated classically (ICLR 2025; interpreted, no public code)")  # fmt: skip
    if abs(gap) <= MATCH_TOLERANCE:
        return Arm("quantum-peft", adapter, "inspired", f"{question}; {count:,} parameters, matched through its "
                   f"depth {depth}", 2e-2, extra={"sizing": "matched"})  # fmt: skip
    return Arm("quantum-peft", adapter, "inspired", f"{question}; the nearest depth {depth} gives {count:,} "
               f"parameters ({gap:+.0%}, not within 5%)", 2e-2, extra={"sizing": "nearest", "size_gap": f"{gap:+.0%}"})


def inspired_arms(model: nn.Module, targets: list[str], budget: int, names: list[str]) -> list[Arm]:
    import re

    modules = {name: module for name, module in model.named_modules() if isinstance(module, nn.Linear)
               and any(re.fullmatch(rf"(.*\.)?{re.escape(target)}", name) for target in targets)}  # fmt: skip
    arms = [quanta_arm(model, targets, budget, modules)] if "quanta" in names else []
    if "quantum-peft" in names:
        arms.append(quantum_peft_arm(model, targets, budget))
    return arms + qpa_arms(model, targets, budget, names)
