"""The emulator's backend options, validated by the core against this model before the backend is built."""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

DTYPES: dict[str, tuple[torch.dtype, torch.dtype]] = {
    "complex64": (torch.complex64, torch.float32),
    "complex128": (torch.complex128, torch.float64),
}
"""Option value -> (amplitude dtype, real dtype of angles and results)."""


class EmulatorOptions(BaseModel):
    """`dtype`: amplitude precision. `fuse_threshold`: how eagerly constant/weight blocks become one dense unitary.

    A block of k ops on n qubits, applied to a state of B rows, runs as one 2^n x 2^n unitary when
    2^n * (1/B + 1/(fuse_threshold * k)) < 1: building the unitary costs about k passes over 2^n rows and
    applying it one GEMM, against k passes over the B-row state gate by gate. `fuse_threshold` is the
    measured cost of one op pass per amplitude over one GEMM multiply-add; 0 turns fusion off.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    dtype: Literal["complex64", "complex128"] = Field(
        default="complex64", description="amplitude precision; results come back in the matching real dtype"
    )
    fuse_threshold: float = Field(
        default=128.0, ge=0, description="dense-fusion eagerness (0 turns fusion off); see EmulatorOptions"
    )

    @field_validator("fuse_threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number >= 0 (0 turns dense fusion off)")
        return value

    @property
    def real_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype][1]
