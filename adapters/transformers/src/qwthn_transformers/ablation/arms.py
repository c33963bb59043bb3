"""The ablation's arms: each an adapter config from the method registry, plus what it isolates.

Arms differ in the adapter only; the task fixes steps, schedule, batch size and data order for all.
`base_lr` is where each arm's rate grid is centred (protocol.py): the authors' published default for
their architecture and its controls (5e-4; the grid reaches their scripts' 5e-5), the earlier demo
recipe's rates for the others. It only places the grid: the rate reported is chosen on validation.

Every LoRA arm uses alpha = 2r (scale 2, the authors' LLaMA-Factory default and peft's common
practice); the rate search absorbs any other choice of scale.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from qwthn.errors import QwthnError


@dataclass(frozen=True)
class Arm:
    name: str
    adapter: dict
    group: str
    """'baseline' (LoRA), 'peft' (peft's other methods), 'paper' (the authors' architecture and its controls),
    'ours' (qwthn and its controls), 'inspired' (quantum-inspired peers: classical methods with circuit structure),
    'peer' (another group's hybrid method with a circuit), 'peer-twin' (that method with its circuit replaced)."""
    question: str
    base_lr: float
    shots: int | None = None
    derived_from: str | None = None
    """Not trained: built from that arm's trained adapters (the dequantized arm)."""
    extra: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        return FAMILY_OF_GROUP[self.group]

    @property
    def kind(self) -> str:
        """What the field's table and picture call the arm: 'quantum' only when its adapter runs a circuit.

        A control of a hybrid (its QNN removed, replaced by an MLP or by its Fourier series, the authors'
        MPO-only variant) is selected with its family, but it is a classical method and is shown as one.
        """
        if self.family != "quantum":
            return self.family
        from qwthn.methods.loading import parse_adapter_config

        return "quantum" if parse_adapter_config(self.adapter).runs_circuits else "classical"


FAMILY_OF_GROUP = {"baseline": "classical", "peft": "classical", "paper": "quantum", "ours": "quantum",
                   "inspired": "quantum-inspired", "peer": "quantum", "peer-twin": "classical"}
"""What `--arms classical` / `--arms quantum` select. 'quantum' means a hybrid with a circuit, here always
emulated exactly on a classical computer: a family name, not a claim about hardware."""


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
        "qwthn-no-entanglement",
        {**QWTHN_DEMO, "entangler": "none"},
        "ours",
        "the same circuit with its CZ gates removed (a product state: Bowles, Ahmed, Schuld 2024)",
        2e-2,
    ),
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
        "qwthn-rff",
        {**QWTHN_DEMO, "qnn_form": "fourier"},
        "ours",
        "the trained QNN replaced by a random-Fourier-feature surrogate of its size: its constant and random terms of "
        "its exact series, as many coefficients as the circuit has weights (Landman et al. 2022)",
        2e-2,
        derived_from="qwthn",
        extra={"surrogate": True},
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
    "lora-r4", "qtha", "qtha-mpo-dense", "qwthn", "qwthn-no-qnn", "qwthn-dequantized", "qwthn-rff",
    "lora-matched-qwthn",
    "lora-matched-qtha",
)
MATCHED = ("qwthn", "qtha")
"""Arms that get a LoRA of matched parameter count (`lora-matched-<arm>`)."""
MATCH_TOLERANCE = 0.05


def nearest_subset(costs: list[tuple[str, int]], budget: int) -> tuple[list[str], int]:
    """The modules whose costs sum nearest `budget` (ties: fewer parameters), taken in model order within each
    cost; exhaustive over how many of each distinct cost (a model has few: q, k, v, o, MLP shapes)."""
    groups: dict[int, list[str]] = {}
    for module, cost in costs:
        groups.setdefault(cost, []).append(module)
    best: tuple[int, int, tuple[int, ...]] | None = None
    for counts in itertools.product(*(range(len(names) + 1) for names in groups.values())):
        total = sum(cost * n for cost, n in zip(groups, counts, strict=True))
        key = (abs(total - budget), total, counts)
        if best is None or key[:2] < best[:2]:
            best = key
    _, total, counts = best
    chosen = {name for (cost, names), n in zip(groups.items(), counts, strict=True) for name in names[:n]}
    return [module for module, _ in costs if module in chosen], total


def matched_lora(name: str, target: int, costs: list[tuple[str, int]]) -> Arm:
    """LoRA with `target` parameters to within 5%, through per-module ranks (peft's rank_pattern).

    `costs` are the default targets' modules in model order with their parameters per unit of rank
    (in + out features). Above one rank everywhere, every module gets rank r and the nearest subset
    r + 1 (alpha follows the rank, so every module has the same scale alpha/r); below it, rank 1 on the
    nearest subset of modules. Only when no subset comes within 5% (a budget below the smallest module)
    is the nearest one compared, and its question states the size gap: the row is never dropped.
    """
    total = sum(cost for _, cost in costs)
    if target >= total:
        rank = target // total
        raised, extra = nearest_subset(costs, target - rank * total)
        count = rank * total + extra
        adapter = {"method": "lora", "r": rank, "alpha": LORA_SCALE * rank,
                   "target_modules": sorted({module.rsplit(".", 1)[-1] for module, _ in costs})}  # fmt: skip
        if raised:
            adapter["rank_pattern"] = {re.escape(module): rank + 1 for module in raised}
            adapter["alpha_pattern"] = {re.escape(module): LORA_SCALE * (rank + 1) for module in raised}
    else:
        chosen, count = nearest_subset(costs, target)
        if not chosen:  # every module alone is more than twice the budget: the smallest one, flagged below
            module, count = min(costs, key=lambda item: item[1])
            chosen = [module]
        adapter = {"method": "lora", "r": 1, "alpha": LORA_SCALE, "target_modules": chosen}
    error = abs(count - target) / target
    if error > MATCH_TOLERANCE:
        gap = f"{(count - target) / target:+.0%}"
        question = f"the nearest LoRA to {name}'s {target:,} parameters: {count:,} ({gap}, not within 5%)"
        return Arm(f"lora-matched-{name}", adapter, "baseline", question, 2e-2, extra={"size_gap": gap})
    question = f"LoRA with {name}'s parameter count ({count:,}; per-module ranks)"
    return Arm(f"lora-matched-{name}", adapter, "baseline", question, 2e-2)


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
