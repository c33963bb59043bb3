"""The exact classical form of a circuit: a trained QNN is a trigonometric polynomial of its inputs.

When input i enters a circuit only through R_i one-qubit Pauli rotations (RX/RY/RZ with angle x_i),
every read-out is a trigonometric polynomial in x_i of degree R_i (Schuld, Sweke & Meyer 2021):
frequencies {-R_i..R_i} per input, {-1, 0, 1}^n with no re-uploading. So, with the weights fixed,

    f(x) = sum_{j1..jn} T[j1, .., jn, :] * phi_{j1}(x_1) * ... * phi_{jn}(x_n),
    phi(x) = [1, cos x, sin x, cos 2x, sin 2x, ..., cos Rx, sin Rx],

exactly. T is computed from the circuit's values on the grid x_i in {2 pi m / (2 R_i + 1)}: there the
basis phi is an invertible real DFT, so T = values x_1 Phi_1^-1 x_2 ... x_n Phi_n^-1. One batch of
prod(2 R_i + 1) rows on any exact backend gives every coefficient; evaluating the series needs no
quantum backend at all. This is what a simulated QNN is: a classical function with a fixed set of
Fourier features, whose coefficients the circuit weights parametrise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from qwthn.contract.circuit import Circuit
from qwthn.errors import QwthnError

KRONECKER_TERMS = 1024
"""Up to this many terms, each row's full feature vector is built and multiplied by T in one GEMM."""
MAX_TERMS = 2**20
"""Largest coefficient tensor (terms per read-out) built; beyond it the series costs more than the circuit."""


def input_frequencies(circuit: Circuit) -> tuple[int, ...]:
    """R_i: how many one-qubit Pauli rotations read input i; refuses inputs in other gates."""
    counts = [0] * circuit.n_inputs
    for gate in circuit.gates:
        if gate.angle is None or gate.angle.source != "input":
            continue
        if gate.spec.pauli is None:
            raise QwthnError(
                f"input {gate.angle.index} drives a {gate.name} gate; the exact Fourier form is built only for "
                "inputs in one-qubit rotations (RX, RY, RZ)"
            )
        counts[gate.angle.index] += 1
    return tuple(counts)


def _real_basis(degree: int, x: torch.Tensor) -> torch.Tensor:
    """[..., 2 * degree + 1]: 1, cos x, sin x, ..., cos(degree x), sin(degree x)."""
    parts = [torch.ones_like(x)]
    for k in range(1, degree + 1):
        parts += [torch.cos(k * x), torch.sin(k * x)]
    return torch.stack(parts, dim=-1)


def grid(frequencies: tuple[int, ...]) -> torch.Tensor:
    """[prod(2 R_i + 1), n] float64: every combination of the equispaced points, first input slowest."""
    axes = [torch.arange(2 * r + 1, dtype=torch.float64) * (2 * math.pi / (2 * r + 1)) for r in frequencies]
    if not axes:
        return torch.zeros(1, 0, dtype=torch.float64)
    return torch.cartesian_prod(*axes).reshape(-1, len(axes))


class FourierSeries(nn.Module):
    """angles [..., n] -> read-outs [..., n_outputs], as the exact series of a circuit (module docstring).

    Drop-in for a `QuantumLayer` of the same circuit: same inputs, same outputs, no backend.
    `coefficients` is trainable, so the same features can also be learned from scratch.
    """

    def __init__(self, circuit: Circuit, *, init_seed: int | None = None) -> None:
        super().__init__()
        self.circuit = circuit
        self.frequencies = input_frequencies(circuit)
        shape = [2 * r + 1 for r in self.frequencies]
        terms = math.prod(shape)
        if terms > MAX_TERMS:
            raise QwthnError(
                f"the Fourier form of this circuit has {terms:,} terms per read-out (input frequencies "
                f"{list(self.frequencies)}); at most {MAX_TERMS:,} are built: use fewer qubits or re-uploads"
            )
        generator = torch.Generator().manual_seed(init_seed) if init_seed is not None else None
        initial = torch.randn(*shape, circuit.n_outputs, generator=generator) / math.sqrt(terms)
        self.coefficients = nn.Parameter(initial)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        leading = inputs.shape[:-1]
        if not self.frequencies:  # a circuit with no input: its read-outs are constants
            return self.coefficients.to(inputs.dtype).expand(*leading, self.circuit.n_outputs)
        flat = inputs.reshape(-1, inputs.shape[-1])
        coefficients = self.coefficients.to(flat.dtype)
        if coefficients[..., 0].numel() <= KRONECKER_TERMS:  # all features per row, then one GEMM
            features = _real_basis(self.frequencies[0], flat[:, 0])
            for index, degree in enumerate(self.frequencies[1:], start=1):
                basis = _real_basis(degree, flat[:, index])
                features = (features[:, :, None] * basis[:, None, :]).reshape(flat.shape[0], -1)
            result = features @ coefficients.reshape(features.shape[1], -1)
            return result.reshape(*leading, self.circuit.n_outputs)
        # Contract one input axis at a time: the first as one GEMM, the rest row by row.
        first = _real_basis(self.frequencies[0], flat[:, 0])
        result = (first @ coefficients.reshape(first.shape[1], -1)).reshape(-1, *coefficients.shape[1:])
        for index, degree in enumerate(self.frequencies[1:], start=1):
            result = torch.einsum("bj,bj...->b...", _real_basis(degree, flat[:, index]), result)
        return result.reshape(*leading, self.circuit.n_outputs)

    def extra_repr(self) -> str:
        return f"input frequencies={list(self.frequencies)}, terms={math.prod(2 * r + 1 for r in self.frequencies)}"


def coefficients_from_values(values: torch.Tensor, frequencies: tuple[int, ...]) -> torch.Tensor:
    """Grid values [prod(2R+1), n_outputs] (as `grid` orders them) -> T [2R_1+1, ..., n_outputs]."""
    shape = [2 * r + 1 for r in frequencies]
    tensor = values.to(torch.float64).reshape(*shape, values.shape[-1])
    for axis, degree in enumerate(frequencies):
        points = torch.arange(2 * degree + 1, dtype=torch.float64) * (2 * math.pi / (2 * degree + 1))
        inverse = torch.linalg.inv(_real_basis(degree, points))  # [2R+1 coefficients, 2R+1 points]
        tensor = torch.movedim(torch.tensordot(inverse, tensor, dims=([1], [axis])), 0, axis)
    return tensor


def series_from_values(circuit: Circuit, evaluate) -> FourierSeries:
    """The exact series of `circuit`, given `evaluate(grid [rows, n]) -> [rows, n_outputs]` at fixed weights."""
    series = FourierSeries(circuit)
    points = grid(series.frequencies)
    values = evaluate(points)
    if not isinstance(values, torch.Tensor):
        values = torch.as_tensor(np.asarray(values))
    series.coefficients = nn.Parameter(coefficients_from_values(values.detach().cpu(), series.frequencies))
    return series
