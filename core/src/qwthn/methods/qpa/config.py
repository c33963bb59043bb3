"""The QPA-style adapter's saved configuration and its circuit."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from qwthn.methods.base import AdapterConfig, CircuitAdapterConfig, check_pattern_keys
from qwthn.validation import Seed

if TYPE_CHECKING:
    from qwthn.contract.circuit import Circuit


def build_qpa_circuit(n_qubits: int, depth: int) -> Circuit:
    """QPA's `QLayer`: `depth` blocks of RY(w) on every wire then a CNOT chain (not circular); no input;
    all 2^n basis-state probabilities read out."""
    from qwthn.contract.circuit import Angle, Circuit, Gate, Readout

    gates, weight = [], 0
    for _ in range(depth):
        for wire in range(n_qubits):
            gates.append(Gate("RY", (wire,), Angle.weight(weight)))
            weight += 1
        gates.extend(Gate("CNOT", (wire, wire + 1)) for wire in range(n_qubits - 1))
    return Circuit(n_qubits, tuple(gates), n_inputs=0, n_weights=weight, readout=Readout("probs", ()))


class QPAConfig(CircuitAdapterConfig):
    """W0 x + (alpha / r) A B x, with A [out, r] and B [r, in] generated at every forward from a QNN's 2^n
    probabilities by a linear mapping model; the trained parameters are the circuit's angles and the mapping's."""

    label: ClassVar[str] = "QPA"
    method: Literal["qpa"] = "qpa"
    r: int = Field(default=4, ge=1, le=256, description="rank of the generated LoRA matrices")
    alpha: float | None = Field(default=None, gt=0.0, description="the update is multiplied by alpha / r; null = 2r")
    n_qubits: int = Field(default=5, ge=1, le=16, description="qubits: the QNN gives 2^n rows to the mapping model")
    depth: int = Field(default=4, ge=1, le=64, description="RY + CNOT blocks of the circuit")
    mapping: list[int] = Field(
        default_factory=lambda: [32], description="hidden widths of the mapping model (linear layers, as QPA's)"
    )
    mapping_pattern: dict[str, list[int]] = Field(
        default_factory=dict,
        description="module name (regex, matched as peft reads rank_pattern) -> its own mapping widths: how the "
        "ablation matches a parameter budget finer than one width step over every module",
    )
    seed: Seed | None = Field(default=None, description="seed of the initialisation (layer i uses seed + i)")
    zero_start: bool = Field(
        default=True,
        description="subtract the A, B generated at initialisation (kept frozen), so the update starts at zero as "
        "LoRA's does; false = QPA's code, whose update starts at whatever its generator gives",
    )
    qnn_form: Literal["circuit", "frozen", "fourier", "none"] = Field(
        default="circuit",
        description="as for every circuit method, but no 'mlp': a QNN without inputs has no MLP twin; 'fourier' is "
        "its classical form, a trained vector of its 2^n outputs",
    )

    @field_validator("mapping")
    @classmethod
    def _positive_widths(cls, widths: list[int]) -> list[int]:
        if any(width < 1 for width in widths):
            raise ValueError("hidden widths of the mapping model must be positive, e.g. [32]")
        return widths

    @field_validator("mapping_pattern")
    @classmethod
    def _valid_pattern(cls, pattern: dict[str, list[int]]) -> dict[str, list[int]]:
        for widths in check_pattern_keys(pattern).values():
            cls._positive_widths(widths)
        return pattern

    def layer_configs(self, targets: list[str]) -> list[AdapterConfig]:
        """Each module's mapping widths (mapping_pattern) and seed (seed + its index)."""
        return self.per_module_configs(targets, {"mapping_pattern": "mapping"})

    @property
    def scale(self) -> float:
        return (self.alpha if self.alpha is not None else 2.0 * self.r) / self.r

    def circuit(self) -> Circuit:
        return build_qpa_circuit(self.n_qubits, self.depth)

    def describe(self) -> str:
        return f"QPA r={self.r} n={self.n_qubits}{self.form_note()}"

    def for_layer(self, index: int) -> QPAConfig:
        return self if self.seed is None else self.model_copy(update={"seed": self.seed + index})
