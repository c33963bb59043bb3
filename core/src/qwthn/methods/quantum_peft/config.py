"""The Quantum-PEFT-style adapter's saved configuration."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from qwthn.methods.base import AdapterConfig
from qwthn.validation import Seed


class QuantumPEFTConfig(AdapterConfig):
    """W0 x + scale * U diag(s) V^T x: U, V the first r columns of the orthogonal unitaries of two RY + CNOT-chain
    circuits on ceil(log2 width) qubits (parameters grow with log width); s starts at zero."""

    label: ClassVar[str] = "Quantum-PEFT"
    method: Literal["quantum-peft"] = "quantum-peft"
    r: int = Field(default=4, ge=1, le=1024, description="rank: columns taken from each unitary")
    layers: int = Field(default=4, ge=1, le=256, description="RY + CNOT layers of each circuit")
    scale: float = Field(default=1.0, gt=0.0, description="the update is multiplied by this")
    seed: Seed | None = Field(default=None, description="seed of the initialisation (layer i uses seed + i)")

    def describe(self) -> str:
        return f"Quantum-PEFT r={self.r} L={self.layers}"

    def for_layer(self, index: int) -> QuantumPEFTConfig:
        return self if self.seed is None else self.model_copy(update={"seed": self.seed + index})

    @property
    def runs_circuits(self) -> bool:
        return False  # the unitaries are built by a small classical simulation in the layer
