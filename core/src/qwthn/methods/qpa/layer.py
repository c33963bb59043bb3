"""The QPA-style layer: a QNN with no data input generates LoRA's A and B through a linear mapping model.

Read from `qpa_lora.py` of CYLphysics/QPA (commit 6d0043c) and the paper (arXiv 2410.09846). Kept:
the circuit (RY blocks and CNOT chains, probabilities read out), the post-processing of each
probability p, (0.6 tanh(0.1 * 2^(n-1) * p))^0.15 minus its mean, one row per basis state holding
its bits as +-1 and its processed probability, a mapping model of linear layers with no activation
(theirs: 32, 64, 128, 128, 64, 32 wide; ours: `mapping`), the generated vector centred to zero mean,
its first out*r values as A [out, r] and the rest as B [r, in], and alpha = 2r. Ours: one generator
per layer with n fixed by the config (theirs derive n from a chunk size, and split large layers over
several generators), each row labelled with its own basis state (theirs draw the labels at random at
every forward, a detail we read as unintended), |p| where theirs has p, so the classical twin's
free vector (qnn_form 'fourier', which can go negative) is read like a probability, and, with
`zero_start` (the default), the A, B generated at initialisation kept frozen and subtracted: QPA's
generated update does not start at zero, and on the smoke model it starts at 17x the frozen layer's
output, a replaced layer before the first step at any learning rate.
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar

import torch
from torch import nn

from qwthn.methods.base import AdapterLayer
from qwthn.methods.qnn import circuit_module
from qwthn.methods.qpa.config import QPAConfig
from qwthn.runtime.executor import Runtime

GAMMA, BETA, POWER = 0.1, 0.6, 0.15
"""QPA's post-processing constants (their gamma, beta, alpha)."""


def postprocess(probabilities: torch.Tensor, n_qubits: int) -> torch.Tensor:
    values = (BETA * torch.tanh(GAMMA * 2 ** (n_qubits - 1) * probabilities.abs())) ** POWER
    return values - values.mean()


class QPALinear(AdapterLayer):
    """base(x) + (alpha / r) A (B x), [A; B] = mapping([bits(k), post(p_k)] for every basis state k), centred."""

    branches: ClassVar[dict[str, str]] = {"qnn": "QNN", "mapping": "mapping model", "start": "initial A, B (frozen)"}
    own_branch: ClassVar[str] = "generated LoRA update"

    def __init__(self, base_layer: nn.Linear, config: QPAConfig, runtime: Runtime) -> None:
        super().__init__(base_layer, config, runtime)
        self.r, self.scale, self.n_qubits = config.r, config.scale, config.n_qubits
        self.size = self.out_features * self.r + self.r * self.in_features
        rows = 2**self.n_qubits
        chunk = math.ceil(self.size / rows)
        self.qnn = circuit_module(config, runtime, init_seed=config.seed)
        indices = torch.arange(rows)[:, None]
        shifts = torch.arange(self.n_qubits - 1, -1, -1)
        self.register_buffer("bits", ((indices >> shifts) & 1).float() * 2 - 1, persistent=False)  # big-endian
        widths = [self.n_qubits + 1, *config.mapping, chunk]
        self.mapping = nn.Sequential(*[nn.Linear(a, b) for a, b in itertools.pairwise(widths)])
        if config.seed is not None:  # torch's default Linear init, drawn from the layer's own seed
            generator = torch.Generator().manual_seed(config.seed)
            for linear in self.mapping:
                bound = 1 / math.sqrt(linear.in_features)
                nn.init.uniform_(linear.weight, -bound, bound, generator=generator)
                nn.init.uniform_(linear.bias, -bound, bound, generator=generator)
        self.start: nn.ParameterList | None = None
        if config.zero_start:
            with torch.no_grad():
                initial = self.generated()
            self.start = nn.ParameterList([nn.Parameter(t.clone(), requires_grad=False) for t in initial])
        self.to(base_layer.weight.device)

    def generated(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(A [out, r], B [r, in]) as the QNN and the mapping model give them now."""
        if self.qnn is None:  # qnn_form 'none': every row sees probability 0
            probabilities = self.bits.new_zeros(self.bits.shape[0])
        else:
            probabilities = self.qnn(self.bits.new_zeros(1, 0)).reshape(-1).float()
        rows = torch.cat([self.bits, postprocess(probabilities, self.n_qubits)[:, None]], dim=1)
        values = self.mapping(rows).reshape(-1)[: self.size]
        values = values - values.mean()
        split = self.out_features * self.r
        return values[:split].view(self.out_features, self.r), values[split:].view(self.r, self.in_features)

    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        a, b = self.generated()
        update = (inputs @ b.T) @ a.T
        if self.start is not None:
            update = update - (inputs @ self.start[1].T) @ self.start[0].T
        return update * self.scale

    def delta_weight(self) -> torch.Tensor:
        """Once generated, the update is the matrix (alpha / r) (A B - A0 B0): it merges like LoRA's."""
        with torch.no_grad():
            a, b = self.generated()
            matrix = a @ b - (self.start[0] @ self.start[1] if self.start is not None else 0)
            return matrix.float() * self.scale
