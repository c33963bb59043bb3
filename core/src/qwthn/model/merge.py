"""`merge_and_unload`: fold an adapter into its base weights, as peft's method of that name does.

A layer whose update is a linear map of x says so by returning its matrix from `delta_weight()`
(LoRA: (alpha / r) B A), and W + that matrix computes base and adapter in one; the adapter layers
can go. QWTHN and QTHA send x through a circuit (or its Fourier series): their update is not a
linear map, `delta_weight()` is None, and they are refused.
"""

from __future__ import annotations

from collections import Counter
from typing import TypeVar

import torch
from torch import nn

from qwthn.errors import QwthnError
from qwthn.methods.base import CircuitAdapterConfig
from qwthn.model.inject import CONFIG_ATTRIBUTE, adapter_layers, remove_adapter

Model = TypeVar("Model", bound=nn.Module)


def merge_and_unload(model: Model) -> Model:
    """Fold each LoRA update into its base nn.Linear weight and remove the adapter; returns `model`, changed in place.

    Every layer is checked before any weight changes, so a refusal leaves the model as it was. The sum is
    taken in float32 and cast to the weight's dtype, as the adapter's own forward casts its update.
    """
    config = getattr(model, CONFIG_ATTRIBUTE, None)
    layers = adapter_layers(model)
    if config is None or not layers:
        raise QwthnError("this model has no qwthn adapter to merge; load one with load_adapter or from_pretrained")
    updates = {name: layer.delta_weight() for name, layer in layers.items()}
    if any(update is None for update in updates.values()):
        hint = (
            "; keep it as an adapter (`qwthn dequantize ADAPTER OUT` gives a circuit-free one that needs no backend)"
            if isinstance(config, CircuitAdapterConfig)
            else "; keep it as an adapter"
        )
        raise QwthnError(
            f"cannot merge a {config.describe()} adapter: its update is not a linear map of the input (LoRA's "
            f"is), so it cannot be folded into the weight{hint}"
        )
    uses = Counter(id(param) for _, param in model.named_parameters(remove_duplicate=False))
    for name, layer in layers.items():
        weight = layer.base_layer.weight
        if uses[id(weight)] > 1:
            raise QwthnError(
                f"cannot merge into {name}: its weight is shared with another module (tied embeddings), which "
                "merging would change too; leave tied layers out of target_modules"
            )
        if not weight.dtype.is_floating_point:
            raise QwthnError(
                f"cannot merge into {name}: its weight is {weight.dtype} (a quantized base); merge onto an "
                "unquantized copy of the base model"
            )
    with torch.no_grad():
        for name, layer in layers.items():
            weight = layer.base_layer.weight
            weight.copy_(weight.float() + updates[name].detach().to(weight.device))
    remove_adapter(model)
    return model
