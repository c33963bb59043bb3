"""LoRA through the same injection path as QWTHN, so comparisons change one thing only."""

from __future__ import annotations

import math

import torch
from torch import nn

from qwthn.config import LoRAConfig
from qwthn.tuners.base import AdapterLayer


class LoRALinear(AdapterLayer):
    """base(x) + (alpha / r) * B(A(x)); B starts at zero so the update starts at zero."""

    def __init__(self, base_layer: nn.Linear, config: LoRAConfig) -> None:
        super().__init__(base_layer, config.dropout)
        self.scaling = config.alpha / config.r
        self.lora_A = nn.Linear(self.in_features, config.r, bias=False)
        self.lora_B = nn.Linear(config.r, self.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.to(base_layer.weight.device)

    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.lora_B(self.lora_A(inputs)) * self.scaling

    def merged_weight(self) -> torch.Tensor:
        """W0 + scaling * B A: LoRA's update is linear in x, so it can be folded in."""
        return self.base_layer.weight + self.scaling * (self.lora_B.weight @ self.lora_A.weight)
