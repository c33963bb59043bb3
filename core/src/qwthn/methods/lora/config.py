"""LoRA's saved configuration."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from qwthn.methods.base import AdapterConfig


class LoRAConfig(AdapterConfig):
    """W0 x + (alpha / r) * B A x, B zero-initialised (Hu et al. 2021)."""

    label: ClassVar[str] = "LoRA"
    method: Literal["lora"] = "lora"
    r: int = Field(default=4, ge=1, description="rank")
    alpha: float = Field(default=8.0, gt=0.0, description="scale numerator: the update is multiplied by alpha/r")

    def describe(self) -> str:
        return f"LoRA r={self.r}"

    @property
    def runs_circuits(self) -> bool:
        return False
