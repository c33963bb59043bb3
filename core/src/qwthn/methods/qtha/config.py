"""QTHA's saved configuration, and the variants the authors' code ships as ablation controls.

Every variant is a registered method of its own (`qwthn finetune --method qtha-mpo`); they share
this config model and differ only in which components the layer builds (`Architecture`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, create_model, model_validator

from qwthn.methods.base import CircuitAdapterConfig
from qwthn.validation import Seed

if TYPE_CHECKING:
    from qwthn.contract.circuit import Circuit


@dataclass(frozen=True)
class Architecture:
    """Which parts of x -> MPO -> dense -> [QNN | MLP] + classical -> dense -> MPO a variant keeps."""

    code: str
    """The authors' `qpeft_arch` letters: A = MPO, B = dense maps (+ classical r x r map), C = QNN, D/E/F = MLP."""
    summary: str
    mpo: bool
    dense: bool
    branch: Literal["qnn", "mlp"] | None
    classical: bool
    mlp_layers: int = 0


VARIANTS: dict[str, Architecture] = {
    "qtha": Architecture("ABC", "the paper's: MPO + dense maps + QNN, linear fusion", True, True, "qnn", True),
    "qtha-mpo": Architecture("A", "MPO only: d_in -> 256 -> d_out", True, False, None, False),
    "qtha-mpo-dense": Architecture("AB", "MPO + dense maps, no QNN", True, True, None, True),
    "qtha-dense-qnn": Architecture("BC", "dense maps + QNN, no MPO", False, True, "qnn", True),
    "qtha-qnn": Architecture("C", "QNN only, between dense maps (no r x r path)", False, True, "qnn", False),
    "qtha-dense": Architecture("B", "dense maps + an r x r map (LoRA with a layer inside)", False, True, None, True),
    "qtha-mlp2": Architecture("BD", "the QNN replaced by a 2-layer SiLU MLP", False, True, "mlp", True, 2),
    "qtha-mlp3": Architecture("BE", "the QNN replaced by a 3-layer SiLU MLP", False, True, "mlp", True, 3),
    "qtha-mlp4": Architecture("BF", "the QNN replaced by a 4-layer SiLU MLP", False, True, "mlp", True, 4),
}
"""Method name -> components, as the authors' `qpeft_arch` values build them (QLLM-peft, tuners/lora/layer.py)."""


class QTHAConfig(CircuitAdapterConfig):
    """The authors' layer: W0 x + (alpha / r) * MPO_B(B(QW q + CW h)), h = A(MPO_A(x)), q = <Z>(QNN(h)).

    Defaults are theirs: r = 4 qubits, L = r circuit layers, MPOs of 4 cores with bond 8 through a
    256-wide middle, alpha = 2r (LLaMA-Factory's default), so the update is scaled by 2.
    """

    label: ClassVar[str] = "QTHA"
    method: Literal["qtha"] = "qtha"
    r: int = Field(default=4, ge=1, le=64, description="rank: width of the dense maps and qubits of the QNN")
    qnn_layers: int | None = Field(
        default=None, ge=1, le=64, description="circuit layers, each re-encoding h; null = r (the authors' default)"
    )
    alpha: float | None = Field(
        default=None, gt=0.0, description="the update is multiplied by alpha / r; null = 2r (scale 2)"
    )
    mpo_width: int = Field(default=256, ge=1, description="width between each MPO and its dense map")
    mpo_cores: int = Field(default=4, ge=1, le=8, description="cores per MPO")
    mpo_bond: int = Field(default=8, ge=1, le=256, description="MPO bond dimension")
    seed: Seed | None = Field(default=None, description="seed of the initialisation (layer i uses seed + i)")

    @property
    def architecture(self) -> Architecture:
        return VARIANTS[self.method]

    @property
    def scale(self) -> float:
        return (self.alpha if self.alpha is not None else 2.0 * self.r) / self.r

    @property
    def circuit_layers(self) -> int:
        return self.qnn_layers if self.qnn_layers is not None else self.r

    @model_validator(mode="after")
    def _circuit_fits(self) -> QTHAConfig:
        if self.architecture.branch == "qnn" and self.r < 2:
            raise ValueError("the QNN's CRZ rings need r >= 2 qubits; raise r")
        return self

    def circuit(self) -> Circuit | None:
        from qwthn.methods.qtha.circuit import build_qtha_circuit

        return build_qtha_circuit(self.r, self.circuit_layers) if self.architecture.branch == "qnn" else None

    def describe(self) -> str:
        return f"{self.method} r={self.r} ({self.architecture.code}){self.form_note()}"

    def for_layer(self, index: int) -> QTHAConfig:
        return self if self.seed is None else self.model_copy(update={"seed": self.seed + index})


def _variant_config(name: str) -> type[QTHAConfig]:
    class_name = "QTHA" + "".join(part.capitalize() for part in name.split("-")[1:]) + "Config"
    config = create_model(
        class_name,
        __base__=QTHAConfig,
        __module__=__name__,
        method=(Literal[name], name),  # type: ignore[valid-type]
    )
    config.__doc__ = f"QTHA variant '{name}' ({VARIANTS[name].code}): {VARIANTS[name].summary}."
    return config


CONFIG_CLASSES: dict[str, type[QTHAConfig]] = {
    name: QTHAConfig if name == "qtha" else _variant_config(name) for name in VARIANTS
}
