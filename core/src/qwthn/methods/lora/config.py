"""LoRA's saved configuration."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from qwthn.errors import QwthnError
from qwthn.methods.base import AdapterConfig


def pattern_key(keys: list[str], module: str) -> str | None:
    """The first key that names `module` as peft reads rank_pattern/alpha_pattern keys: a regex matching the
    whole name or its tail after a dot (`q_proj`, `layers.0.self_attn.q_proj`, `layers\\.\\d\\.q_proj`)."""
    return next((key for key in keys if re.match(rf"(.*\.)?({key})$", module)), None)


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
        for key, value in pattern.items():
            try:
                re.compile(key)
            except re.error as error:
                raise ValueError(f"key {key!r} is not a valid regular expression ({error})") from None
            if value <= 0:
                raise ValueError(f"{key!r}: {value} must be positive")
        return pattern

    def describe(self) -> str:
        return f"LoRA r={self.r}" + (" (per-module ranks)" if self.rank_pattern else "")

    def layer_configs(self, targets: list[str]) -> list[AdapterConfig]:
        """Each module's rank and alpha; a pattern key that names no adapted module is refused (a typo would
        otherwise train a different budget than asked, silently)."""
        for kind, pattern in (("rank_pattern", self.rank_pattern), ("alpha_pattern", self.alpha_pattern)):
            unused = [key for key in pattern if not any(pattern_key([key], name) for name in targets)]
            if unused:
                raise QwthnError(f"{kind} key(s) {', '.join(map(repr, unused))} match no adapted module; the adapted "
                                 f"modules include {', '.join(targets[:4])}; fix the key or drop it")  # fmt: skip
        if not self.rank_pattern and not self.alpha_pattern:
            return [self] * len(targets)
        configs = []
        for name in targets:
            rank_key = pattern_key(list(self.rank_pattern), name)
            alpha_key = pattern_key(list(self.alpha_pattern), name)
            update = {"rank_pattern": {}, "alpha_pattern": {},
                      "r": self.rank_pattern[rank_key] if rank_key else self.r,
                      "alpha": self.alpha_pattern[alpha_key] if alpha_key else self.alpha}  # fmt: skip
            configs.append(self.model_copy(update=update))
        return configs

    @property
    def runs_circuits(self) -> bool:
        return False
