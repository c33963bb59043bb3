"""The classical PEFT field as ablation arms, through peft's own implementations (none is rewritten here).

Each method is sized to the QWTHN arm's trainable parameters through its own knob (rank, block size,
number of frequencies): the knob value whose count is nearest the budget, then, where peft gives the
method per-module sizes (`rank_pattern`, `n_frequency_pattern`), the nearest subset of modules raised
one step, as LoRA's matching does (arms.matched_lora). Counts are never computed from formulas: each
candidate is applied to a copy of the task's model and its trainable parameters counted. A method that
cannot reach within 5% is compared at the nearest size (the gap is stated), one without a size knob
(IA3) at its only size; one that peft cannot apply to the model is reported in the notes, not run.

Scales follow one documented rule: every LoRA-shaped method (DoRA, LoHa, LoKr, AdaLoRA) uses
alpha = 2r like the LoRA arms; PiSSA uses alpha = r (its paper's setting: the principal components
move into the adapter at scale 1). FourierFT starts from a zero spectrum (peft's
`init_weights=True`), not its default random one: with the default, its update on the smoke model is 134x
the frozen layer's output before the first step, a replaced layer rather than an adapted one, whatever the
rate. The rate grid of each is centred on LoRA's 2e-2, VeRA's on 2e-1 (its paper trains it at about ten
times LoRA's rate); the search moves the grid wherever the best rate is.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from torch import nn

from qwthn_transformers.ablation.arms import LORA_SCALE, MATCH_TOLERANCE, Arm, nearest_subset

ADALORA_SCHEDULE = (0.1, 0.2)
"""AdaLoRA's budget schedule as fractions of the steps: full rank for the first 10%, final rank for the last 20%."""


@dataclass(frozen=True)
class PeftMethod:
    name: str
    question: str
    make: Callable[[dict, int], object]
    """(adapter settings without 'peft', training steps) -> a peft config."""
    knob: str | None
    """The size setting the match moves (None: the method has one size on given modules)."""
    values: Callable[[dict[str, nn.Linear]], Sequence[int]] = lambda modules: range(1, 257)
    """The knob's valid values on these target modules, increasing."""
    pattern: str | None = None
    """peft's per-module override of the knob, when the method has one."""
    scale: Callable[[int], float] | None = None
    """alpha for a knob value (None: the method has no alpha)."""
    base_lr: float = 2e-2


def _lora(**fixed) -> Callable[[dict, int], object]:
    def make(settings: dict, steps: int):
        from peft import LoraConfig

        return LoraConfig(**fixed, **settings)

    return make


def _make(class_name: str, **fixed) -> Callable[[dict, int], object]:
    def make(settings: dict, steps: int):
        import peft

        return getattr(peft, class_name)(**fixed, **settings)

    return make


def _adalora(settings: dict, steps: int):
    from peft import AdaLoraConfig

    init_r = settings.pop("init_r")
    start, end = (round(steps * fraction) for fraction in ADALORA_SCHEDULE)
    return AdaLoraConfig(init_r=init_r, target_r=max(1, round(init_r * 2 / 3)), total_step=steps, tinit=start,
                         tfinal=end, **settings)  # fmt: skip


def _oft_blocks(modules: dict[str, nn.Linear]) -> list[int]:
    """Block sizes that divide every target's input width (OFT rotates the input in blocks)."""
    widths = {module.in_features for module in modules.values()}
    return [size for size in (2, 4, 8, 16, 32, 64, 128, 256) if all(width % size == 0 for width in widths)]


def _frequencies(modules: dict[str, nn.Linear]) -> range:
    return range(1, min(module.in_features * module.out_features for module in modules.values()) + 1)


PEFT_METHODS: tuple[PeftMethod, ...] = (
    PeftMethod("dora", "DoRA: LoRA on the direction, a trained magnitude per output", _lora(use_dora=True), "r",
               pattern="rank_pattern", scale=lambda r: LORA_SCALE * r),
    PeftMethod("pissa", "LoRA initialised on the principal singular vectors (PiSSA)",
               _lora(init_lora_weights="pissa"), "r", pattern="rank_pattern", scale=float),
    PeftMethod("vera", "VeRA: frozen shared random matrices, trained scaling vectors", _make("VeraConfig"), "r",
               values=lambda modules: range(1, 16385), base_lr=2e-1),
    PeftMethod("loha", "LoHa: Hadamard product of two low-rank updates", _make("LoHaConfig"), "r",
               pattern="rank_pattern", scale=lambda r: LORA_SCALE * r),
    PeftMethod("lokr", "LoKr: Kronecker product with a low-rank factor", _make("LoKrConfig"), "r",
               pattern="rank_pattern", scale=lambda r: LORA_SCALE * r),
    PeftMethod("oft", "OFT: block-diagonal orthogonal rotation of the input", _make("OFTConfig", r=0),
               "oft_block_size", values=_oft_blocks),
    PeftMethod("ia3", "IA3: a learned rescaling of each output", _make("IA3Config", feedforward_modules=[]), None),
    PeftMethod("adalora", "AdaLoRA: SVD-shaped LoRA with rank budget reallocated in training", _adalora, "init_r",
               scale=lambda r: LORA_SCALE * r),
    PeftMethod("fourierft", "FourierFT: a sparse trained spectrum of the update (classical Fourier neighbour)",
               _make("FourierFTConfig", init_weights=True), "n_frequency", values=_frequencies,
               pattern="n_frequency_pattern"),
)
METHODS = {method.name: method for method in PEFT_METHODS}


def peft_config(adapter: dict, steps: int):
    """The peft config of a peft arm's adapter settings ({'peft': name, ...})."""
    settings = {key: value for key, value in adapter.items() if key != "peft"}
    return METHODS[adapter["peft"]].make(settings, steps)


def is_peft(adapter: dict) -> bool:
    return "peft" in adapter


def apply_peft(model: nn.Module, adapter: dict, steps: int):
    """The model wrapped by peft with this arm's adapter (every non-adapter parameter frozen by peft)."""
    from peft import get_peft_model

    return get_peft_model(model, peft_config(adapter, steps))


def tuner_sizes(wrapped: nn.Module) -> dict[str, int]:
    """Trainable parameters of each adapted module, by its name in the base model."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    base = wrapped.base_model.model
    return {name: sum(p.numel() for p in module.parameters() if p.requires_grad)
            for name, module in base.named_modules() if isinstance(module, BaseTunerLayer)}  # fmt: skip


@dataclass
class Sizer:
    """Counts an adapter's trainable parameters by applying it to a copy of the model."""

    model: nn.Module
    steps: int
    counted: dict[str, tuple[int, dict[str, int]]] = field(default_factory=dict)

    def sizes(self, adapter: dict) -> tuple[int, dict[str, int]]:
        key = repr(sorted(adapter.items()))
        if key not in self.counted:
            wrapped = apply_peft(copy.deepcopy(self.model), adapter, self.steps)
            total = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
            self.counted[key] = (total, tuner_sizes(wrapped))
        return self.counted[key]

    def total(self, adapter: dict) -> int:
        return self.sizes(adapter)[0]


def _with_knob(method: PeftMethod, base: dict, value: int) -> dict:
    adapter = {**base, method.knob: value}
    if method.scale is not None:
        adapter["lora_alpha" if method.name in ("dora", "pissa", "adalora") else "alpha"] = method.scale(value)
    return adapter


def largest_within(values: Sequence[int], fits: Callable[[int], bool]) -> int:
    """Index of the largest value that fits (values increasing, `fits` monotone); -1 when none does."""
    low, high = 0, len(values) - 1
    found = -1
    while low <= high:
        middle = (low + high) // 2
        if fits(values[middle]):
            found, low = middle, middle + 1
        else:
            high = middle - 1
    return found


def sized_adapter(method: PeftMethod, targets: list[str], budget: int, sizer: Sizer,
                  modules: dict[str, nn.Linear]) -> tuple[dict, int]:  # fmt: skip
    """The method's adapter on `targets` with trainable parameters nearest `budget`, and its count."""
    base = {"peft": method.name, "target_modules": targets}
    if method.knob is None:
        return base, sizer.total(base)
    values = method.values(modules)
    index = largest_within(values, lambda value: sizer.total(_with_knob(method, base, value)) <= budget)
    if index < 0:  # even the smallest size is over budget: it on the nearest subset of the modules
        return _on_subset(_with_knob(method, base, values[0]), budget, sizer)
    first = largest_within(values[: index + 1], lambda value: sizer.total(_with_knob(method, base, value))
                            < sizer.total(_with_knob(method, base, values[index]))) + 1  # fmt: skip
    candidates = [values[i] for i in (first, index + 1) if i < len(values)]  # a saturated knob: its smallest value
    adapter = min((_with_knob(method, base, value) for value in candidates),
                  key=lambda a: (abs(sizer.total(a) - budget), sizer.total(a)))  # fmt: skip
    if method.pattern is None or index + 1 >= len(values):
        return adapter, sizer.total(adapter)
    low, high = values[index], values[index + 1]
    low_total, low_sizes = sizer.sizes(_with_knob(method, base, low))
    _, high_sizes = sizer.sizes(_with_knob(method, base, high))
    steps = [(name, high_sizes[name] - low_sizes[name]) for name in low_sizes]
    raised, extra = nearest_subset(steps, budget - low_total)
    if abs(low_total + extra - budget) >= abs(sizer.total(adapter) - budget):
        return adapter, sizer.total(adapter)
    adapter = _with_knob(method, base, low)
    if raised:
        adapter[method.pattern] = {re.escape(name): high for name in raised}
        if method.scale is not None:
            adapter["alpha_pattern"] = {re.escape(name): method.scale(high) for name in raised}
    return adapter, sizer.total(adapter)


def _on_subset(adapter: dict, budget: int, sizer: Sizer) -> tuple[dict, int]:
    """The adapter on the modules whose sizes sum nearest `budget` (at least one: the smallest)."""
    _, sizes = sizer.sizes(adapter)
    chosen, _ = nearest_subset(list(sizes.items()), budget)
    chosen = chosen or [min(sizes, key=sizes.get)]
    subset = {**adapter, "target_modules": chosen}
    return subset, sizer.total(subset)


def peft_arm(method: PeftMethod, targets: list[str], budget: int, sizer: Sizer,
             modules: dict[str, nn.Linear]) -> Arm:  # fmt: skip
    """The method as an arm sized to `budget`; its question says whether it is matched, and how."""
    adapter, count = sized_adapter(method, targets, budget, sizer, modules)
    gap = (count - budget) / budget
    if method.knob is None:
        how = f"its only size on these modules, {count:,} parameters ({gap:+.0%} of the budget)"
        extra = {"size_gap": f"{gap:+.0%}", "sizing": "fixed"}
    elif abs(gap) <= MATCH_TOLERANCE:
        how = f"{count:,} parameters, matched through {method.knob}"
        extra = {"sizing": "matched"}
    else:
        how = f"the nearest {method.knob} gives {count:,} parameters ({gap:+.0%}, not within 5%)"
        extra = {"size_gap": f"{gap:+.0%}", "sizing": "nearest"}
    return Arm(method.name, adapter, "peft", f"{method.question}; {how}", method.base_lr, extra=extra)


def peft_arms(model: nn.Module, targets: list[str], budget: int, steps: int,
              names: list[str] | None = None) -> tuple[list[Arm], list[str]]:  # fmt: skip
    """Every (or each named) peft method sized to `budget` on `model`; notes for the ones peft cannot apply."""
    modules = {name: module for name, module in model.named_modules()
               if any(re.fullmatch(rf"(.*\.)?{re.escape(target)}", name) for target in targets)}  # fmt: skip
    sizer = Sizer(model, steps)
    arms, notes = [], []
    for method in PEFT_METHODS:
        if names is not None and method.name not in names:
            continue
        try:
            arms.append(peft_arm(method, targets, budget, sizer, modules))
        except (ValueError, TypeError, NotImplementedError, RuntimeError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            notes.append(f"{method.name}: peft cannot apply it to this model's {', '.join(targets)} ({reason}); "
                         "not run")  # fmt: skip
    return arms, notes
