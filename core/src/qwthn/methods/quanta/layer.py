"""The QuanTA layer: pairwise-axis gates applied to the reshaped input, minus their frozen initial copy.

Read from the authors' `quanta/tuners/quanta.py` (quanta-fine-tuning/quanta): pairs of axes are taken
in `itertools.combinations(range(-1, -d - 1, -1), 2)` order, each gate is a [out_b, out_a, in_b, in_a]
tensor for axes (a, b) = (dim1, dim2), initialised like a matrix with kaiming_uniform(a=sqrt(5)), and
a frozen copy of the initial gates is subtracted ('sum_opposite_freeze_one'). Theirs folds the frozen
copy into the base weight; we keep the base untouched and subtract it in the update (same function).
Input and output share the axes; a narrower input is zero-padded and a narrower output truncated, as theirs.
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar

import torch
from torch import nn

from qwthn.methods.base import AdapterLayer
from qwthn.methods.quanta.config import QuanTAConfig
from qwthn.runtime.executor import Runtime

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def gate_pairs(count: int) -> list[tuple[int, int]]:
    """(dim1, dim2) as positive axis indices, in the authors' order."""
    return [(count + a, count + b) for a, b in itertools.combinations(range(-1, -count - 1, -1), 2)]


def apply_gates(states: torch.Tensor, gates: list[torch.Tensor], pairs: list[tuple[int, int]]) -> torch.Tensor:
    """states [B, *axes] through each gate on its two axes, in order."""
    count = states.dim() - 1
    for gate, (first, second) in zip(gates, pairs, strict=True):
        letters = list(LETTERS[:count])
        out_first, out_second = LETTERS[count], LETTERS[count + 1]
        source = "Z" + "".join(letters)
        gate_letters = out_second + out_first + letters[second] + letters[first]
        letters[first], letters[second] = out_first, out_second
        states = torch.einsum(f"{source},{gate_letters}->Z{''.join(letters)}", states, gate)
    return states


class QuanTALinear(AdapterLayer):
    """base(x) + scale * (U(x) - U0(x)); U0 is U's frozen initial copy, so the update starts at zero."""

    branches: ClassVar[dict[str, str]] = {"gates": "QuanTA gates", "initial": "QuanTA frozen initial gates"}

    def __init__(self, base_layer: nn.Linear, config: QuanTAConfig, runtime: Runtime) -> None:
        super().__init__(base_layer, config, runtime)
        self.axes = config.axes_for(self.in_features, self.out_features)
        self.total = math.prod(self.axes)
        self.scale = config.scale
        self.pairs = gate_pairs(len(self.axes))
        gates = []
        for first, second in self.pairs:
            a, b = self.axes[first], self.axes[second]
            gate = torch.empty(b, a, b, a)
            nn.init.kaiming_uniform_(gate.view(b * a, b * a), a=math.sqrt(5))
            gates.append(nn.Parameter(gate))
        self.gates = nn.ParameterList(gates)
        self.initial = nn.ParameterList([nn.Parameter(g.detach().clone(), requires_grad=False) for g in gates])
        self.to(base_layer.weight.device)

    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        leading = inputs.shape[:-1]
        padded = nn.functional.pad(inputs.reshape(-1, self.in_features), (0, self.total - self.in_features))
        states = padded.view(-1, *self.axes)
        trained = apply_gates(states, list(self.gates), self.pairs)
        with torch.no_grad():
            initial = apply_gates(states, list(self.initial), self.pairs)
        update = (trained - initial).reshape(-1, self.total)[:, : self.out_features] * self.scale
        return update.reshape(*leading, self.out_features)

    def delta_weight(self) -> torch.Tensor:
        """The update applied to the identity: QuanTA is linear in x, so this [out, in] matrix is all of it."""
        with torch.no_grad():
            identity = torch.eye(self.in_features, device=self.gates[0].device)
            return self.delta(identity).T.float()
