"""The QWTHN layer: W0 x + s * U(fuse(z, QNN(z))), z = D(x) (docs/algorithm.md)."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from qwthn.methods.base import AdapterLayer
from qwthn.methods.qnn import circuit_module
from qwthn.methods.qwthn.config import QWTHNConfig
from qwthn.methods.qwthn.mpo import MPOLinear
from qwthn.runtime.executor import Runtime


def encode_angles(z: torch.Tensor) -> torch.Tensor:
    """Bounded, monotonic angle map: pi * tanh(z) lies in (-pi, pi), one full turn of the Bloch circle."""
    return math.pi * torch.tanh(z)


class QWTHNLinear(AdapterLayer):
    """A frozen linear layer plus the quantum-weighted tensor hybrid update.

    fusion "weighted" (paper v1): u = z * (1 + q), q = <Z_i>; U maps n -> out.
    fusion "linear" (paper v2): u = [a * z ; b * q], a and b learned per
    component; with the probability read-out q has 2^n entries, so the update
    spans up to n + 2^n directions. U's last core starts at zero: Delta = 0 at
    step 0, as LoRA's B. The circuit runs wherever `runtime` says; every layer of
    one model shares that runtime (one backend, one compiled circuit).
    """

    branches: ClassVar[dict[str, str]] = {
        "down": "MPO", "up": "MPO", "qnn": "QNN", "mix_classical": "fusion", "mix_quantum": "fusion"
    }
    own_branch: ClassVar[str] = "fusion"

    def __init__(self, base_layer: nn.Linear, config: QWTHNConfig, runtime: Runtime) -> None:
        super().__init__(base_layer, config, runtime)
        self.fusion, self.scale = config.fusion, config.scale
        generator = torch.Generator().manual_seed(config.seed) if config.seed is not None else None
        circuit = config.circuit()
        mpo = {"bond_dim": config.bond_dim, "n_cores": config.mpo_cores, "generator": generator}
        self.down = MPOLinear(self.in_features, config.n_qubits, **mpo)
        self.qnn = circuit_module(config, runtime, init_seed=config.seed)
        self.n_outputs = circuit.n_outputs
        if self.fusion == "weighted":
            fused_width = config.n_qubits
        else:
            fused_width = config.n_qubits + circuit.n_outputs
            self.mix_classical = nn.Parameter(torch.ones(config.n_qubits))
            self.mix_quantum = nn.Parameter(torch.ones(circuit.n_outputs))
        self.up = MPOLinear(fused_width, self.out_features, zero_init=True, **mpo)
        self.to(base_layer.weight.device)

    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        z = self.down(inputs)
        # No QNN (the MPO-only control): q = 0, so u = z, or [a z; 0].
        q = z.new_zeros(*z.shape[:-1], self.n_outputs) if self.qnn is None else self.qnn(encode_angles(z))
        if self.fusion == "weighted":
            fused = z * (1 + q)
        else:
            fused = torch.cat([self.mix_classical * z, self.mix_quantum * q], dim=-1)
        return self.scale * self.up(fused)
