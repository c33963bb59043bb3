"""A third-party adapter method registered through `qwthn_register_methods`: a learned output bias.

It is the smallest possible method, written only against the public method contract, to show
that adding one touches one place: this file and its entry point.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import nn

from qwthn import hookimpl
from qwthn.methods import AdapterConfig, AdapterLayer


class BiasConfig(AdapterConfig):
    label: ClassVar[str] = "Bias"
    method: Literal["bias"] = "bias"
    scale: float = 1.0


class BiasLinear(AdapterLayer):
    """base(x) + scale * b, b zero at the start."""

    def __init__(self, base_layer: nn.Linear, config: BiasConfig, runtime) -> None:
        super().__init__(base_layer, config, runtime)
        self.scale = config.scale
        self.bias_update = nn.Parameter(torch.zeros(self.out_features, device=base_layer.weight.device))

    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.scale * self.bias_update.expand(*inputs.shape[:-1], -1)


@hookimpl
def qwthn_register_methods(register):
    register("bias", BiasConfig, BiasLinear)
