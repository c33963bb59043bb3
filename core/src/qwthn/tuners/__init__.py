"""Adapter layers (one module per method), all wrapping a frozen nn.Linear the same way."""

from __future__ import annotations

from torch import nn

from qwthn.config import LoRAConfig, QWTHNConfig
from qwthn.tuners.base import AdapterLayer
from qwthn.tuners.lora import LoRALinear
from qwthn.tuners.qwthn import QWTHNLinear


def create_adapter_layer(base_layer: nn.Linear, config: QWTHNConfig | LoRAConfig) -> AdapterLayer:
    if isinstance(config, LoRAConfig):
        return LoRALinear(base_layer, config)
    return QWTHNLinear(base_layer, config)


__all__ = ["AdapterLayer", "LoRALinear", "QWTHNLinear", "create_adapter_layer"]
