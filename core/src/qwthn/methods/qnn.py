"""The QNN part of a circuit adapter, in the form its config asks for (`CircuitAdapterConfig.qnn_form`).

One place builds it for every method, so each ablation control (frozen circuit, classical MLP,
exact Fourier series, no QNN) is a config value, not a fork of a layer.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qwthn.contract.circuit import Circuit
from qwthn.methods.base import CircuitAdapterConfig
from qwthn.runtime.executor import Runtime


class CircuitSizedMLP(nn.Module):
    """A classical stand-in with the circuit's input and output widths and about its parameter count.

    inputs -> Linear -> SiLU -> Linear -> tanh: bounded in (-1, 1) like <Z_i>, with the hidden width
    that brings its parameters closest to the circuit's weight count.
    """

    def __init__(self, circuit: Circuit, *, init_seed: int | None = None) -> None:
        super().__init__()
        n_in, n_out = circuit.n_inputs, circuit.n_outputs
        per_unit = n_in + 1 + n_out  # one hidden unit's weights and bias (+ the output bias, counted below)
        hidden = max(1, round((circuit.n_weights - n_out) / per_unit))
        generator = torch.Generator().manual_seed(init_seed) if init_seed is not None else None
        self.hidden, self.output = nn.Linear(n_in, hidden), nn.Linear(hidden, n_out)
        for layer in (self.hidden, self.output):
            bound = 1 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.weight, -bound, bound, generator=generator)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.output(nn.functional.silu(self.hidden(inputs))))


def circuit_module(
    config: CircuitAdapterConfig, runtime: Runtime, *, init_seed: int | None = None
) -> nn.Module | None:
    """The layer's QNN in the config's form; None for 'none' (the layer then drops its QNN term)."""
    from qwthn.runtime.fourier import FourierSeries
    from qwthn.runtime.quantum_layer import QuantumLayer

    circuit = config.circuit()
    form = config.qnn_form
    if form == "none":
        return None
    if form == "fourier":
        return FourierSeries(circuit, init_seed=init_seed)
    if form == "mlp":
        return CircuitSizedMLP(circuit, init_seed=init_seed)
    return QuantumLayer(circuit, runtime, init_seed=init_seed, trainable=form == "circuit")
