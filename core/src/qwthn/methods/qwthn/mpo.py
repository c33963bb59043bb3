"""MPO (tensor-train matrix) linear maps with automatic factorisation of any size.

W[(j1..jk), (i1..ik)] = G1[i1, j1] G2[i2, j2] ... Gk[ik, jk], each G a core of
shape [r_prev, i, j, r_next] with r_0 = r_k = 1 and bond dimension r between.
Sizes with a large prime factor (151936 = 2^7 * 1187) are padded up to the
nearest size that factorises evenly; the padding is sliced off the
materialised matrix, which equals zero-padding the input and dropping the
extra outputs. One side of every QWTHN map is tiny (the qubit count), so
materialising W and calling one GEMM is the fastest contraction here.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from qwthn.errors import QwthnError


def _prime_factors(number: int) -> list[int]:
    factors, divisor = [], 2
    while divisor * divisor <= number:
        while number % divisor == 0:
            factors.append(divisor)
            number //= divisor
        divisor += 1
    if number > 1:
        factors.append(number)
    return factors


def _balanced_split(number: int, n_factors: int) -> tuple[int, ...]:
    """Greedy: give each prime (largest first) to the currently smallest factor."""
    bins = [1] * n_factors
    for prime in sorted(_prime_factors(number), reverse=True):
        bins[bins.index(min(bins))] *= prime
    return tuple(sorted(bins, reverse=True))


def factorize(dim: int, n_factors: int) -> tuple[int, ...]:
    """`n_factors` factors of `dim`, or of a slightly larger size when `dim` factorises badly.

    An exact split is kept while its largest factor is at most twice the ideal
    (the n-th root); otherwise sizes up to ~6% above `dim` are searched for the
    smallest largest factor, so 151936 pads to a smooth number instead of
    carrying a 1187-wide core.
    """
    if dim < 1 or n_factors < 1:
        raise QwthnError(f"cannot factorise size {dim} into {n_factors} factors; both must be >= 1")
    best = _balanced_split(dim, n_factors)
    ideal = math.ceil(dim ** (1.0 / n_factors))
    if max(best) <= 2 * ideal:
        return best
    for size in range(dim + 1, dim + max(8, dim // 16) + 1):
        if max(best) <= ideal:
            break
        candidate = _balanced_split(size, n_factors)
        if max(candidate) < max(best):
            best = candidate
    return best


class MPOLinear(nn.Module):
    """A bias-free linear map R^in -> R^out stored as `n_cores` MPO cores."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bond_dim: int = 4,
        n_cores: int = 3,
        zero_init: bool = False,
        generator: torch.Generator | None = None,
        in_factors: tuple[int, ...] | None = None,
        out_factors: tuple[int, ...] | None = None,
        init: Literal["variance", "kaiming"] = "variance",
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.in_factors = in_factors or factorize(in_features, n_cores)
        self.out_factors = out_factors or factorize(out_features, n_cores)
        if len(self.in_factors) != n_cores or len(self.out_factors) != n_cores:
            raise QwthnError(f"MPO with {n_cores} cores needs {n_cores} mode sizes per side")
        if math.prod(self.in_factors) < in_features or math.prod(self.out_factors) < out_features:
            raise QwthnError(
                f"MPO modes {self.in_factors} -> {self.out_factors} cannot hold {in_features} -> {out_features}"
            )
        ranks = [1] + [bond_dim] * (n_cores - 1) + [1]
        # "variance": each entry of W sums r^(k-1) products of k core entries; the core scale makes
        # Var(W) = 1/in (Kaiming-like, keeps z at the input's scale). "kaiming": each core as the
        # [out_mode * r_next, r_prev * in_mode] matrix the QTHA authors store, kaiming-normal on its fan-in.
        variance_std = (1.0 / in_features) ** (1.0 / (2 * n_cores)) / bond_dim ** ((n_cores - 1) / (2 * n_cores))
        self.cores = nn.ParameterList()
        for index, (fan_in, fan_out) in enumerate(zip(self.in_factors, self.out_factors, strict=True)):
            shape = (ranks[index], fan_in, fan_out, ranks[index + 1])
            std = variance_std if init == "variance" else math.sqrt(2.0 / (ranks[index] * fan_in))
            core = torch.randn(shape, generator=generator) * std
            if zero_init and index == n_cores - 1:
                core.zero_()
            self.cores.append(nn.Parameter(core))

    def weight(self) -> torch.Tensor:
        """The dense [out, in] matrix the cores represent."""
        first = self.cores[0]
        result = first.reshape(first.shape[1], first.shape[2], first.shape[3])
        for core in self.cores[1:]:
            rows, cols, _ = result.shape
            result = torch.einsum("IJr,rijs->IiJjs", result, core)
            result = result.reshape(rows * core.shape[1], cols * core.shape[2], core.shape[3])
        return result[: self.in_features, : self.out_features, 0].transpose(0, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.linear(inputs, self.weight())

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, in={self.in_factors}, out={self.out_factors}"
