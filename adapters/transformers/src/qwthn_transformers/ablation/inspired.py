"""The quantum and quantum-inspired peers as ablation arms, sized to QWTHN's parameter count through their own knobs.

QuanTA (Chen et al., NeurIPS 2024; qwthn's `quanta` method, read from `quanta-fine-tuning/quanta`): its
knob is the list of axes the width is reshaped into. Every non-increasing list of axis sizes (2 to 8
axes of at least 2) whose product holds the widest target module, below twice its width, is a
candidate; the one whose parameter count is nearest the budget is chosen, and its count is then taken
from the model with the adapter attached, never from the formula alone.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from torch import nn

from qwthn.methods.loading import parse_adapter_config
from qwthn.model.inject import inject_adapter
from qwthn_transformers.ablation.arms import MATCH_TOLERANCE, Arm, nearest_subset
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


def qpa_sizing(model: nn.Module, base: dict, budget: int, modules: dict[str, nn.Linear]) -> dict:
    """QPA's adapter settings sized to `budget`: the largest mapping width w within it on every module, then
    w + 1 on the subset of modules that brings the count nearest (mapping_pattern), as matched LoRA does
    with ranks; one width step is counted per module shape on a copy of the model, never from a formula."""
    widths = range(1, 513)
    index = max(0, largest_within(widths, lambda w: _count(model, {**base, "mapping": [w]}) <= budget))
    width = widths[index]
    adapter = {**base, "mapping": [width]}
    low = _count(model, adapter)
    step_by_shape: dict[tuple[int, int], int] = {}
    steps = []
    for name, module in modules.items():
        shape = (module.in_features, module.out_features)
        if shape not in step_by_shape:
            raised = {**adapter, "mapping_pattern": {re.escape(name): [width + 1]}}
            step_by_shape[shape] = _count(model, raised) - low
        steps.append((name, step_by_shape[shape]))
    chosen, extra = nearest_subset(steps, budget - low)
    if chosen and abs(low + extra - budget) < abs(low - budget):
        adapter["mapping_pattern"] = {re.escape(name): [width + 1] for name in chosen}
    return adapter


def qpa_arms(model: nn.Module, targets: list[str], budget: int, names: list[str],
             modules: dict[str, nn.Linear]) -> list[Arm]:  # fmt: skip
    """QPA (its mapping model's hidden widths sized to the budget) and its classical twin at the same widths."""
    sized = qpa_sizing(model, {"method": "qpa", "target_modules": targets, "seed": 0}, budget, modules)
    width = sized["mapping"][0]
    finer = f" (+1 on {len(sized['mapping_pattern'])} modules)" if sized.get("mapping_pattern") else ""
    arms = []
    for name, form, question in (
        ("qpa", "circuit", "QPA-style: LoRA's A, B generated at every step by a QNN with no data input and a linear "
                           "mapping model (ICLR 2025)"),
        ("qpa-classical", "fourier", "QPA's classical twin: the QNN's 2^n probabilities replaced by a trained "
                                     "vector, the same mapping model"),
    ):  # fmt: skip
        if name not in names:
            continue
        adapter = {**sized, "qnn_form": form}
        count = _count(model, adapter)
        gap = (count - budget) / budget
        sizing = {"sizing": "matched"} if abs(gap) <= MATCH_TOLERANCE else {"sizing": "nearest",
                                                                            "size_gap": f"{gap:+.0%}"}  # fmt: skip
        how = (f"{count:,} parameters, matched through the mapping width {width}{finer}" if "size_gap" not in sizing
               else f"the nearest mapping width {width}{finer} gives {count:,} parameters ({gap:+.0%}, not within "
               "5%)")  # fmt: skip
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
    modules = {name: module for name, module in model.named_modules() if isinstance(module, nn.Linear)
               and any(re.fullmatch(rf"(.*\.)?{re.escape(target)}", name) for target in targets)}  # fmt: skip
    arms = [quanta_arm(model, targets, budget, modules)] if "quanta" in names else []
    if "quantum-peft" in names:
        arms.append(quantum_peft_arm(model, targets, budget))
    return arms + qpa_arms(model, targets, budget, names, modules)
