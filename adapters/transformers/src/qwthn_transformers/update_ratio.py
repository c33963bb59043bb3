"""How large each adapter's update is against the frozen layer it adapts: |ΔW x| / |W x| during training.

Why: an adapter that trains at too high a rate does not fail loudly. Its update grows until it
replaces the pretrained layer, and the run ends with a finite, merely bad, score that an ablation
would average as if the method were weak. Watching this ratio tells "diverged at this rate" apart
from "trained and scored low". It is measured on the training batch every `every` steps (forward
hooks, removed between measurements, so other steps pay nothing). The frozen output is the base
layer applied to the adapted layer's own input, so the same measure holds for qwthn's layers and for
peft's (some of which, like OFT and IA3, change the input the base layer sees).
"""

from __future__ import annotations

import torch
from torch import nn

from qwthn.model.inject import adapter_layers


def adapted_layers(model: nn.Module) -> dict[str, tuple[nn.Module, nn.Module]]:
    """Each adapted layer with its frozen base layer: qwthn's, and peft's tuner layers when peft is installed."""
    layers = {name: (layer, layer.base_layer) for name, layer in adapter_layers(model).items()}
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return layers
    for name, module in model.named_modules():
        if isinstance(module, BaseTunerLayer) and isinstance(module, nn.Module):
            layers[name] = (module, module.get_base_layer())
    return layers


class UpdateRatioMonitor:
    """Per adapted layer, ||delta(X)||_F / ||W X||_F on the batch of every `every`-th step."""

    def __init__(self, model: nn.Module, every: int = 1) -> None:
        self.layers = adapted_layers(model)
        self.every = max(1, every)
        self.steps: list[int] = []
        self.ratios: dict[str, list[float]] = {name: [] for name in self.layers}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def before_step(self, step: int) -> None:
        """Arm the hooks when `step` is one to measure (the training loop calls this before its forward)."""
        self._remove()
        if step % self.every:
            return
        self.steps.append(step)
        for name, (layer, base) in self.layers.items():
            self._handles.append(layer.register_forward_hook(self._layer_hook(name, base)))

    def _layer_hook(self, name: str, base: nn.Module):
        def hook(_module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            with torch.no_grad():
                frozen = base(inputs[0].detach())
            update = torch.linalg.vector_norm((output.detach() - frozen).float())
            size = torch.linalg.vector_norm(frozen.float())
            self.ratios[name].append(float(update / size) if size > 0 else float("inf"))

        return hook

    def after_step(self) -> None:
        self._remove()

    def _remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def max_ratio(self) -> float | None:
        """The largest ratio any layer reached at any measured step (None before any measurement)."""
        values = [value for series in self.ratios.values() for value in series]
        return max(values) if values else None

    def trajectory(self) -> dict:
        """Measured steps and, at each, the largest ratio over layers (the JSON and the plot keep this)."""
        series = [values for values in self.ratios.values() if values]
        if not series:
            return {"steps": [], "max_over_layers": []}
        length = min(len(values) for values in series)
        return {"steps": self.steps[:length], "max_over_layers": [max(v[i] for v in series) for i in range(length)]}
