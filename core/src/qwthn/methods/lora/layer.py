"""The LoRA layer."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from qwthn.methods.base import AdapterLayer
from qwthn.methods.lora.config import LoRAConfig
from qwthn.runtime.executor import Runtime


class LoRALinear(AdapterLayer):
    """base(x) + (alpha / r) * B(A(x)); B starts at zero so the update starts at zero. Runs no circuit."""

    branches: ClassVar[dict[str, str]] = {"lora_A": "LoRA A", "lora_B": "LoRA B"}

    def __init__(self, base_layer: nn.Linear, config: LoRAConfig, runtime: Runtime) -> None:
        super().__init__(base_layer, config, runtime)
        self.scaling = config.alpha / config.r
        self.lora_A = nn.Linear(self.in_features, config.r, bias=False)
        self.lora_B = nn.Linear(config.r, self.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.to(base_layer.weight.device)

    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.lora_B(self.lora_A(inputs)) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """(alpha / r) B A: LoRA's update is linear in x, so this matrix is the whole update."""
        return (self.lora_B.weight @ self.lora_A.weight).float() * self.scaling
