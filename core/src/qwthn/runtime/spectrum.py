"""A quantumness meter: how much of a trained circuit's Fourier series its read-outs actually use.

The exact series (fourier.py) has prod(2 R_i + 1) terms per read-out. A trained circuit rarely needs
all of them: if a few low-order terms carry almost all of its variation, a classical model with those
features reproduces it (Landman et al. 2022's random-Fourier-feature argument, made exact here). For
each read-out: the variance each term contributes over uniform inputs (a constant term none; a
product of cosines and sines of its squared coefficient times 1/2 per non-constant factor), how many
terms carry 99% of it, and the largest order (sum of |k_i|) among those terms.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

SHARE = 0.99


@dataclass(frozen=True)
class Spectrum:
    """One layer's read-outs, summarised by the worst (most demanding) read-out."""

    terms: int
    """Terms per read-out in the exact series."""
    terms_for_share: int
    """Most terms any read-out needs to carry SHARE of its variance."""
    max_order: int
    """Largest order (sum over inputs of |frequency|) among those terms, over read-outs."""
    full_order: int
    """The largest order the series has (sum of R_i)."""
    power_by_order: list[float]
    """Share of the layer's variance at each order 1..full_order (summed over read-outs)."""

    def as_dict(self) -> dict:
        return asdict(self)


def _orders_and_weights(frequencies: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per term (flattened as the coefficients are): its order, and its mean-square weight (1/2 per cos or sin)."""
    orders = torch.zeros(1, dtype=torch.long)
    weights = torch.ones(1, dtype=torch.float64)
    for degree in frequencies:
        index = torch.arange(2 * degree + 1)
        order = (index + 1) // 2  # 0: constant; 2k-1, 2k: cos kx, sin kx
        weight = torch.where(index == 0, 1.0, 0.5).to(torch.float64)
        orders = (orders[:, None] + order[None, :]).reshape(-1)
        weights = (weights[:, None] * weight[None, :]).reshape(-1)
    return orders, weights


def spectrum(coefficients: torch.Tensor, frequencies: tuple[int, ...], share: float = SHARE) -> Spectrum:
    """The meter of one layer's series T [2R_1+1, ..., n_outputs] (fourier.FourierSeries.coefficients)."""
    orders, weights = _orders_and_weights(frequencies)
    flat = coefficients.detach().to(torch.float64).reshape(orders.numel(), -1)
    power = flat.square() * weights[:, None]
    power[orders == 0] = 0.0  # the offset does not vary with the input
    needed, order = 0, 0
    for column in power.T:
        total = float(column.sum())
        if total <= 0:
            continue
        ranked, index = torch.sort(column, descending=True)
        count = int(torch.searchsorted(torch.cumsum(ranked, 0), share * total).item()) + 1
        count = min(count, int((column > 0).sum()))
        needed = max(needed, count)
        order = max(order, int(orders[index[:count]].max()))
    full = sum(frequencies)
    total = float(power.sum())
    by_order = [float(power[orders == k].sum()) / total if total > 0 else 0.0 for k in range(1, full + 1)]
    return Spectrum(math.prod(2 * r + 1 for r in frequencies), needed, order, full, by_order)
