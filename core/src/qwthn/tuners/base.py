"""What every adapter layer shares: a frozen base `nn.Linear` plus a trainable update."""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import nn


class AdapterLayer(nn.Module):
    """y = base(x) + delta(x); the base layer is frozen and kept as `base_layer`.

    The update runs in float32 whatever the base's dtype, so bf16/fp16 models
    train stable adapters, and is cast back to the base output's dtype.
    """

    def __init__(self, base_layer: nn.Linear, dropout: float) -> None:
        super().__init__()
        if not isinstance(base_layer, nn.Linear):
            raise TypeError(f"adapters wrap nn.Linear layers, got {type(base_layer).__name__}")
        self.base_layer = base_layer
        self.base_layer.requires_grad_(False)
        self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @abstractmethod
    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        """The update for float32 `inputs` (already through dropout)."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        output = self.base_layer(inputs)
        update = self.delta(self.dropout(inputs.to(torch.float32)))
        return output + update.to(output.dtype)

    def adapter_parameters(self) -> dict[str, nn.Parameter]:
        return {name: param for name, param in self.named_parameters() if not name.startswith("base_layer.")}
