"""Finite-shot estimates: every row measures all qubits `shots` times in the Z basis."""

from __future__ import annotations

import torch

MAX_SAMPLES_PER_CHUNK = 1 << 22
"""Bounds the int64 index buffer of one multinomial call (32 MiB)."""


def sample_probabilities(probs: torch.Tensor, shots: int, seed: int | None) -> torch.Tensor:
    """Empirical frequencies [rows, 2^n] of `shots` draws per row; `seed` makes them reproducible."""
    generator = torch.Generator(device=probs.device).manual_seed(seed) if seed is not None else None
    weights = probs.detach().clamp_min(0)
    frequencies = torch.zeros_like(weights)
    chunk = max(1, MAX_SAMPLES_PER_CHUNK // shots)
    for start in range(0, weights.shape[0], chunk):
        rows = weights[start : start + chunk]
        outcomes = torch.multinomial(rows, shots, replacement=True, generator=generator)
        counts = torch.zeros_like(rows).scatter_add_(1, outcomes, torch.ones_like(outcomes, dtype=rows.dtype))
        frequencies[start : start + chunk] = counts / shots
    return frequencies
