"""How large each adapter's update is against the frozen layer it adapts: |ΔW x| / |W x| during training.

Why: an adapter that trains at too high a rate does not fail loudly. Its update grows until it
replaces the pretrained layer, and the run ends with a finite, merely bad, score that an ablation
would average as if the method were weak. Watching this ratio tells "diverged at this rate" apart
from "trained and scored low". It is measured on the training batch every `every` steps (forward
hooks, removed between measurements, so other steps pay nothing).
"""

from __future__ import annotations

import torch
from torch import nn

from qwthn.model.inject import adapter_layers


class UpdateRatioMonitor:
    """Per adapted layer, ||delta(X)||_F / ||W X||_F on the batch of every `every`-th step."""

    def __init__(self, model: nn.Module, every: int = 1) -> None:
        self.layers = adapter_layers(model)
        self.every = max(1, every)
        self.steps: list[int] = []
        self.ratios: dict[str, list[float]] = {name: [] for name in self.layers}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._frozen: dict[str, float] = {}

    def before_step(self, step: int) -> None:
        """Arm the hooks when `step` is one to measure (the training loop calls this before its forward)."""
        self._remove()
        if step % self.every:
            return
        self.steps.append(step)
        self._frozen = {}
        for name, layer in self.layers.items():
            self._handles.append(layer.base_layer.register_forward_hook(self._base_hook(name)))
            self._handles.append(layer.register_forward_hook(self._layer_hook(name)))

    def _base_hook(self, name: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            self._frozen[name] = output.detach()

        return hook

    def _layer_hook(self, name: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            frozen = self._frozen.pop(name, None)
            if frozen is None:
                return
            update = torch.linalg.vector_norm((output.detach() - frozen).float())
            base = torch.linalg.vector_norm(frozen.float())
            self.ratios[name].append(float(update / base) if base > 0 else float("inf"))

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
