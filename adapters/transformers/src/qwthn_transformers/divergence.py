"""Which branch of which adapter layer first went non-finite, for the message that stops training.

A NaN loss is useless to act on without knowing where it came from: the MPO, the QNN, the fusion
of the two, or the base model itself. Gradients are checked by parameter name; a non-finite loss
is traced by re-running the forward pass of the same batch with hooks on every branch (only after
a failure, so normal steps pay nothing).
"""

from __future__ import annotations

import torch
from torch import nn

from qwthn.model.inject import adapter_layers

BASE_MODEL = "the base model, every adapter output being finite"


def _finite(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value).all()) if value.is_floating_point() else True
    if isinstance(value, (tuple, list)):
        return all(_finite(item) for item in value)
    return True


def nonfinite_branches(model: nn.Module, gradients: bool) -> list[str]:
    """'<branch> branch of <layer>' for each adapter branch with a non-finite gradient (or value), in model order."""
    found: list[str] = []
    for layer_name, layer in adapter_layers(model).items():
        for name, parameter in layer.adapter_parameters().items():
            tensor = parameter.grad if gradients else parameter.detach()
            if tensor is not None and not _finite(tensor):
                where = f"the {layer.branch_of(name)} branch of {layer_name}"
                if where not in found:
                    found.append(where)
    return found


@torch.no_grad()
def first_nonfinite_output(model: nn.Module, batch: dict[str, torch.Tensor]) -> str:
    """Re-runs `batch` and names the first branch whose output is not finite, in execution order."""
    first: list[str] = []
    handles = []

    def watch(label: str, upstream: str):
        def hook(_module: nn.Module, inputs: object, output: object) -> None:
            if not first and not _finite(output):
                first.append(label if _finite(inputs) else upstream)  # a non-finite input was made before it
        return hook

    for layer_name, layer in adapter_layers(model).items():
        combined = f"the {layer.own_branch} of {layer_name}"
        for child_name, child in layer.named_children():
            if child_name == "base_layer":  # runs first: a non-finite input came from the base model
                hook = watch(f"the base model, before {layer_name}", f"the base model, before {layer_name}")
            else:
                hook = watch(f"the {layer.branch_of(child_name)} branch of {layer_name}", combined)
            handles.append(child.register_forward_hook(hook))
        handles.append(layer.register_forward_hook(watch(combined, f"the base model, before {layer_name}")))
    training = model.training
    try:
        model.eval()  # no dropout: the same values, and nothing else changes
        model(**batch)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    if first:
        return first[0]
    return BASE_MODEL

