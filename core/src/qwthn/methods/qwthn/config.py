"""QWTHN's saved configuration.

Defaults are chosen so that on `q_proj`/`v_proj` of a Qwen2.5-1.5B-shaped model
QWTHN trains under 30% of LoRA r=4's parameters (the paper's "76% fewer");
`tests/core/test_parameter_budget.py` holds them to that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, model_validator

from qwthn.methods.base import CircuitAdapterConfig
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.validation import Seed

if TYPE_CHECKING:
    from qwthn.contract.circuit import Circuit


class QWTHNConfig(CircuitAdapterConfig):
    """W0 x + scale * U(fuse(z, QNN(z))), z = D(x); D and U are MPOs (docs/algorithm.md)."""

    label: ClassVar[str] = "QWTHN"
    method: Literal["qwthn"] = "qwthn"
    n_qubits: int = Field(default=4, ge=1, le=24, description="qubits of the QNN (= width of the MPO down-map)")
    n_layers: int = Field(default=2, ge=1, le=64, description="trainable RY+RZ+CZ layers of the QNN")
    encoding: Literal["ry", "rx"] = Field(default="ry", description="rotation that encodes z_i on qubit i")
    reupload: bool = Field(default=False, description="re-encode z before every trainable layer")
    entangler: Literal["chain", "ring", "none"] = Field(default="chain", description="CZ pattern between layers")
    readout: Literal["expval_z", "probs"] = Field(default="expval_z", description="<Z_i> (n) or probabilities (2^n)")
    fusion: Literal["weighted", "linear"] = Field(default="weighted", description="v1 z*(1+q) or v2 [a z; b q]")
    bond_dim: int = Field(default=4, ge=1, le=256, description="MPO bond dimension of both maps")
    mpo_cores: int = Field(default=3, ge=1, le=8, description="number of MPO cores each map factorises into")
    scale: float = Field(default=1.0, gt=0.0, description="s in W0 x + s * Delta(x)")
    seed: Seed | None = Field(
        default=None, description="seed of the circuit-weight and MPO initialisation (layer i uses seed + i)"
    )

    @model_validator(mode="after")
    def _fusion_matches_readout(self) -> QWTHNConfig:
        if self.fusion == "weighted" and self.readout == "probs":
            raise ValueError(
                "fusion 'weighted' needs readout 'expval_z' (it multiplies z by <Z_i>); or use fusion 'linear'"
            )
        return self

    def circuit(self) -> Circuit:
        """The circuit a QWTHN layer with this config runs (benchmarks time exactly this one)."""
        return build_qnn_circuit(
            self.n_qubits, self.n_layers, encoding=self.encoding, reupload=self.reupload, entangler=self.entangler,
            readout=self.readout,
        )  # fmt: skip

    def describe(self) -> str:
        return "QWTHN" + self.form_note()

    def for_layer(self, index: int) -> QWTHNConfig:
        """Distinct, reproducible initial weights per layer, so adapted layers do not start identical."""
        return self if self.seed is None else self.model_copy(update={"seed": self.seed + index})
