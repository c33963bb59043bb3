"""Samples -> qwthn read-outs: probabilities (little-endian, wire k = bit k) or <Z_w>, per row, vectorised."""

from __future__ import annotations

import numpy as np


def unpack_bits(array: np.ndarray, n_bits: int) -> np.ndarray:
    """A `BitArray.array` [rows, shots, bytes] (big-endian bytes) -> bits [rows, shots, n_bits], bit k = clbit k."""
    bits = np.unpackbits(array[..., ::-1], axis=-1, bitorder="little")
    return bits[..., :n_bits]


def from_bits(bits: np.ndarray, kind: str, wires: tuple[int, ...]) -> np.ndarray:
    """Estimates from bits [rows, shots, n]: probabilities [rows, 2^n] or <Z_w> [rows, len(wires)]."""
    rows, shots, n = bits.shape
    if kind == "expval_z":
        return 1.0 - 2.0 * bits[:, :, list(wires)].mean(axis=1, dtype=np.float64)
    index = bits.astype(np.int64) @ (1 << np.arange(n, dtype=np.int64))  # [rows, shots]
    flat = index + (np.arange(rows, dtype=np.int64) << n)[:, None]
    counts = np.bincount(flat.ravel(), minlength=rows << n).reshape(rows, 1 << n)
    return counts / float(shots)
