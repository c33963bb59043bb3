"""LoRA's saved configuration."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from qwthn.methods.base import AdapterConfig, check_pattern_keys, pattern_key  # noqa: F401 (re-exported)


class LoRAConfig(AdapterConfig):
    """W0 x + (alpha / r) * B A x, B zero-initialised (Hu et al. 2021); per-module ranks and alphas as in peft."""

    label: ClassVar[str] = "LoRA"
    method: Literal["lora"] = "lora"
    r: int = Field(default=4, ge=1, description="rank")
    alpha: float = Field(default=8.0, gt=0.0, description="scale numerator: the update is multiplied by alpha/r")
    rank_pattern: dict[str, int] = Field(
        default_factory=dict, description="module name (regex, matched as peft does) -> its own rank"
    )
    alpha_pattern: dict[str, float] = Field(
        default_factory=dict, description="module name (regex, matched as peft does) -> its own alpha"
    )

    @field_validator("rank_pattern", "alpha_pattern")
    @classmethod
    def _positive_and_valid(cls, pattern: dict) -> dict:
        for key, value in check_pattern_keys(pattern).items():
            if value <= 0:
                raise ValueError(f"{key!r}: {value} must be positive")
        return pattern

    def describe(self) -> str:
        return f"LoRA r={self.r}" + (" (per-module ranks)" if self.rank_pattern else "")

    def layer_configs(self, targets: list[str]) -> list[AdapterConfig]:
        """Each module's rank and alpha (peft's rank_pattern and alpha_pattern)."""
        return self.per_module_configs(targets, {"rank_pattern": "r", "alpha_pattern": "alpha"})

    @property
    def runs_circuits(self) -> bool:
        return False
