"""The QTHA layer, computed as the authors' code computes it (QLLM-peft `Linear.forward`, qpeft_arch branches).

h = A(MPO_A(x)); u = QW <Z>(QNN(h)) + CW h; Delta(x) = (alpha / r) * MPO_B(B(u)). Variants drop parts
(`Architecture`). Initialisation is theirs: kaiming-normal MPO cores, kaiming-uniform dense maps, the
last core of MPO_B zero, and B zero where there is no MPO_B to start the update at zero; circuit angles
uniform in [-pi, pi). The QNN takes h as angles unchanged (RY(h_i)), as theirs does.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from qwthn.methods.base import AdapterLayer
from qwthn.methods.qnn import circuit_module
from qwthn.methods.qtha.config import QTHAConfig
from qwthn.methods.qwthn.mpo import MPOLinear, factorize
from qwthn.runtime.executor import Runtime

AUTHORS_MODES: dict[int, tuple[int, ...]] = {
    256: (4, 4, 4, 4), 512: (8, 4, 4, 4), 1024: (8, 8, 4, 4), 2048: (8, 8, 8, 4), 2560: (8, 8, 8, 5),
    3584: (8, 8, 8, 7), 4096: (8, 8, 8, 8), 5120: (10, 8, 8, 8), 18944: (37, 8, 8, 8), 20480: (40, 8, 8, 8),
    27648: (27, 16, 8, 8),
}  # fmt: skip
"""The 4-core mode factorisations the authors' code looks widths up in (QLLM-peft, tuners/lora/layer.py)."""


def mpo_modes(width: int, n_cores: int) -> tuple[int, ...]:
    """The authors' modes where their table has the width (4 cores); otherwise qwthn's balanced factorisation.

    Their table lacks e.g. 1536 (Qwen2.5-1.5B) and 896 (Qwen2.5-0.5B), where their code fails; any width
    works here: `factorize` splits it into `n_cores` near-equal factors, padding widths with a large
    prime factor to the nearest smooth size.
    """
    if n_cores == 4 and width in AUTHORS_MODES:
        return AUTHORS_MODES[width]
    return factorize(width, n_cores)


def kaiming_linear(in_features: int, out_features: int, generator: torch.Generator | None, *, zero: bool = False):
    layer = nn.Linear(in_features, out_features, bias=False)
    if zero:
        nn.init.zeros_(layer.weight)
    else:
        nn.init.kaiming_uniform_(layer.weight, generator=generator)
    return layer


class QTHALinear(AdapterLayer):
    """A frozen linear layer plus the QTHA update of the variant its config names."""

    branches: ClassVar[dict[str, str]] = {
        "mpo_down": "MPO", "mpo_up": "MPO", "dense_down": "dense", "dense_up": "dense", "qnn": "QNN",
        "quantum_weight": "fusion", "classical_weight": "fusion", "mlp": "MLP",
    }
    own_branch: ClassVar[str] = "fusion"

    def __init__(self, base_layer: nn.Linear, config: QTHAConfig, runtime: Runtime) -> None:
        super().__init__(base_layer, config, runtime)
        arch, r = config.architecture, config.r
        self.scale = config.scale
        generator = torch.Generator().manual_seed(config.seed) if config.seed is not None else None
        width_in, width_out = self.in_features, self.out_features
        if arch.mpo:
            width = config.mpo_width
            mpo = {"bond_dim": config.mpo_bond, "n_cores": config.mpo_cores, "generator": generator, "init": "kaiming"}
            middle = mpo_modes(width, config.mpo_cores)
            in_modes, out_modes = (
                mpo_modes(self.in_features, config.mpo_cores),
                mpo_modes(self.out_features, config.mpo_cores),
            )
            self.mpo_down = MPOLinear(self.in_features, width, in_factors=in_modes, out_factors=middle, **mpo)
            self.mpo_up = MPOLinear(
                width, self.out_features, in_factors=middle, out_factors=out_modes, zero_init=True, **mpo
            )
            width_in = width_out = width
        if arch.dense:
            self.dense_down = kaiming_linear(width_in, r, generator)
            self.dense_up = kaiming_linear(r, width_out, generator, zero=not arch.mpo)
        if arch.branch == "qnn":
            self.qnn = circuit_module(config, runtime, init_seed=config.seed)
            if self.qnn is not None:
                self.quantum_weight = kaiming_linear(r, r, generator)
        elif arch.branch == "mlp":
            layers: list[nn.Module] = []
            for index in range(arch.mlp_layers):
                last = index == arch.mlp_layers - 1
                layers.append(kaiming_linear(r, r, generator, zero=last))
                if not last:
                    layers.append(nn.SiLU())
            self.mlp = nn.Sequential(*layers)
        if arch.classical:
            self.classical_weight = kaiming_linear(r, r, generator)
        self.architecture = arch
        self.to(base_layer.weight.device)

    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        arch = self.architecture
        hidden = self.mpo_down(inputs) if arch.mpo else inputs
        if arch.dense:
            h = self.dense_down(hidden)
            fused = torch.zeros_like(h)
            if arch.branch == "qnn" and self.qnn is not None:
                fused = fused + self.quantum_weight(self.qnn(h))
            elif arch.branch == "mlp":
                fused = fused + self.mlp(h)
            if arch.classical:
                fused = fused + self.classical_weight(h)
            hidden = self.dense_up(fused)
        update = self.mpo_up(hidden) if arch.mpo else hidden
        return self.scale * update

    def extra_repr(self) -> str:
        return f"{self.architecture.code}: {self.architecture.summary}, scale={self.scale:g}"
