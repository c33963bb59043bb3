"""The emulator's backend options, validated once so a typo fails at construction, not mid-training."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch

from qwthn.errors import CapabilityError

DTYPES: dict[str, tuple[torch.dtype, torch.dtype]] = {
    "complex64": (torch.complex64, torch.float32),
    "complex128": (torch.complex128, torch.float64),
}
"""Option value -> (amplitude dtype, real dtype of angles and results)."""


@dataclass(frozen=True)
class EmulatorOptions:
    """`dtype`: amplitude precision. `fuse_threshold`: how eagerly constant/weight blocks become one dense unitary.

    A block of k ops on n qubits, applied to a state of B rows, runs as one 2^n x 2^n unitary when
    2^n * (1/B + 1/(fuse_threshold * k)) < 1: building the unitary costs about k passes over 2^n rows and
    applying it one GEMM, against k passes over the B-row state gate by gate. `fuse_threshold` is the
    measured cost of one op pass per amplitude over one GEMM multiply-add; 0 turns fusion off.
    """

    dtype: str = "complex64"
    fuse_threshold: float = 128.0

    @classmethod
    def parse(cls, options: dict[str, Any]) -> EmulatorOptions:
        allowed = sorted(field.name for field in fields(cls))
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise CapabilityError(f"emulator: unknown option(s) {unknown}; the options are {allowed}")
        parsed = cls(**options)
        if parsed.dtype not in DTYPES:
            raise CapabilityError(f"emulator: dtype={parsed.dtype!r} is not supported; use one of {sorted(DTYPES)}")
        threshold = parsed.fuse_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold < math.inf:
            raise CapabilityError(
                f"emulator: fuse_threshold={threshold!r} must be a finite number >= 0 (0 turns dense fusion off)"
            )
        return parsed

    @property
    def complex_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype][0]

    @property
    def real_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype][1]
