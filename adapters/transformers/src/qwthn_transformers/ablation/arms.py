"""The ablation's arms: each an adapter config from the method registry, plus what it isolates.

Arms differ in the adapter only; the task fixes steps, schedule, batch size and data order for all.
`base_lr` is where each arm's rate grid is centred (protocol.py): the authors' published default for
their architecture and its controls (5e-4; the grid reaches their scripts' 5e-5), the earlier demo
recipe's rates for the others. It only places the grid: the rate reported is chosen on validation.

Every LoRA arm uses alpha = 2r (scale 2, the authors' LLaMA-Factory default and peft's common
practice); the rate search absorbs any other choice of scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qwthn.errors import QwthnError


@dataclass(frozen=True)
class Arm:
    name: str
    adapter: dict
    group: str
    """'baseline', 'paper' (the authors' architecture and its controls), 'ours' (qwthn and its controls)."""
    question: str
    base_lr: float
    shots: int | None = None
    derived_from: str | None = None
    """Not trained: built from that arm's trained adapters (the dequantized arm)."""
    extra: dict = field(default_factory=dict)


LORA_SCALE = 2.0
"""alpha / r for every LoRA arm (matched ones included)."""
AUTHORS_LR = 5e-4
"""The authors' default rate for their architecture (their scripts use 5e-5, inside the grid around it)."""
QWTHN_DEMO = {"method": "qwthn", "scale": 4.0}
"""The demo recipe's QWTHN (library defaults, update scale 4): see finetune.EMBEDDED_RECIPE."""

ARMS: tuple[Arm, ...] = (
    Arm("lora-r4", {"method": "lora", "r": 4, "alpha": 4 * LORA_SCALE}, "baseline", "the reference LoRA", 2e-2),
    Arm("lora-r8", {"method": "lora", "r": 8, "alpha": 8 * LORA_SCALE}, "baseline", "twice LoRA's rank", 2e-2),
    Arm("qtha", {"method": "qtha"}, "paper", "the authors' architecture (ABC)", AUTHORS_LR),
    Arm("qtha-mpo", {"method": "qtha-mpo"}, "paper", "authors': MPO only (A)", AUTHORS_LR),
    Arm("qtha-mpo-dense", {"method": "qtha-mpo-dense"}, "paper", "authors': no QNN (AB)", AUTHORS_LR),
    Arm("qtha-dense-qnn", {"method": "qtha-dense-qnn"}, "paper", "authors': no MPO (BC)", AUTHORS_LR),
    Arm("qtha-qnn", {"method": "qtha-qnn"}, "paper", "authors': QNN only (C)", AUTHORS_LR),
    Arm("qtha-dense", {"method": "qtha-dense"}, "paper", "authors': no MPO, no QNN (B)", AUTHORS_LR),
    Arm("qtha-mlp2", {"method": "qtha-mlp2"}, "paper", "authors': QNN -> 2-layer SiLU MLP (BD)", AUTHORS_LR),
    Arm("qtha-mlp3", {"method": "qtha-mlp3"}, "paper", "authors': QNN -> 3-layer SiLU MLP (BE)", AUTHORS_LR),
    Arm("qtha-mlp4", {"method": "qtha-mlp4"}, "paper", "authors': QNN -> 4-layer SiLU MLP (BF)", AUTHORS_LR),
    Arm("qwthn", QWTHN_DEMO, "ours", "our variant, exact QNN (the product's default)", 2e-2),
    Arm("qwthn-no-qnn", {**QWTHN_DEMO, "qnn_form": "none"}, "ours", "MPO maps only: QNN removed", 2e-2),
    Arm("qwthn-mlp", {**QWTHN_DEMO, "qnn_form": "mlp"}, "ours", "MPO + classical MLP of the QNN's size", 2e-2),
    Arm("qwthn-frozen-qnn", {**QWTHN_DEMO, "qnn_form": "frozen"}, "ours", "MPO + frozen random QNN", 2e-2),
    Arm(
        "qwthn-fourier",
        {**QWTHN_DEMO, "qnn_form": "fourier"},
        "ours",
        "same Fourier features as the QNN, trained from scratch",
        2e-2,
    ),
    Arm(
        "qwthn-dequantized",
        {**QWTHN_DEMO, "qnn_form": "fourier"},
        "ours",
        "the trained QNN replaced by its exact classical form",
        2e-2,
        derived_from="qwthn",
    ),
    Arm(
        "qwthn-sampled-forward",
        QWTHN_DEMO,
        "ours",
        "our variant with 1000-shot sampled forwards and exact (straight-through) gradients: the cost of shot "
        "noise in the forward pass, not what hardware could train (it would need shot-based parameter shifts)",
        2e-2,
        shots=1000,
    ),
)
SMOKE_ARMS = (
    "lora-r4", "qtha", "qtha-mpo-dense", "qwthn", "qwthn-no-qnn", "qwthn-dequantized", "lora-matched-qwthn",
    "lora-matched-qtha",
)
MATCHED = ("qwthn", "qtha")
"""Arms that get a LoRA of matched parameter count (`lora-matched-<arm>`)."""
MATCH_TOLERANCE = 0.05


def matched_lora(name: str, target: int, lora_count) -> Arm:
    """LoRA whose count is nearest `target`: rank r on a subset of the default targets.

    `lora_count(r, targets)` counts on the real model. When no rank and subset comes within 5% (a
    model whose smallest LoRA is larger than the arm, or an arm larger than LoRA r=64), the nearest
    one is still compared, and its question states the size gap: the row is never dropped.
    """
    best = None
    for targets in (["q_proj", "v_proj"], ["q_proj"], ["v_proj"]):
        for r in range(1, 65):
            count = lora_count(r, targets)
            error = abs(count - target) / target
            if best is None or error < best[0]:
                best = (error, r, targets, count)
            if count > target:
                break
    error, r, targets, count = best
    adapter = {"method": "lora", "r": r, "alpha": LORA_SCALE * r, "target_modules": targets}
    if error > MATCH_TOLERANCE:
        gap = f"{(count - target) / target:+.0%}"
        question = f"the nearest LoRA to {name}'s {target:,} parameters: {count:,} ({gap}, not within 5%)"
        return Arm(f"lora-matched-{name}", adapter, "baseline", question, 2e-2, extra={"size_gap": gap})
    return Arm(f"lora-matched-{name}", adapter, "baseline", f"LoRA with {name}'s parameter count ({count:,})", 2e-2)


def select(arms: list[Arm], names: list[str] | None) -> list[Arm]:
    """The arms named (in the given order), refusing unknown names with the list of known ones."""
    if names is None:
        return arms
    known = {arm.name: arm for arm in arms}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise QwthnError(f"unknown arm {unknown[0]!r}; the arms are: {', '.join(known)}")
    chosen = [known[name] for name in names]
    for arm in chosen:
        if arm.derived_from and arm.derived_from not in names:
            raise QwthnError(f"arm '{arm.name}' is built from arm '{arm.derived_from}'; add it to --arms")
    return chosen
