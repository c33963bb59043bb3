"""QuanTA's saved configuration."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from qwthn.errors import QwthnError
from qwthn.methods.base import AdapterConfig


def equal_axes(width: int, count: int) -> list[int]:
    """`count` equal axes whose product first reaches `width` (QuanTA's default: ceil(width ** (1 / d)))."""
    size = max(2, math.ceil(width ** (1 / count)))
    while (size - 1) ** count >= width and size > 2:  # a float root can overshoot by one
        size -= 1
    return [size] * count


class QuanTAConfig(AdapterConfig):
    """W0 x + (U(x) - U0(x)): U applies a dense tensor to every pair of axes of x reshaped into `axes`, in turn,
    like two-qubit gates on qudits; U0 is U at its initialisation, frozen (the authors' 'sum_opposite_freeze_one'),
    so the update starts at zero while every gate starts random. Linear in x, so it merges into the weight."""

    label: ClassVar[str] = "QuanTA"
    method: Literal["quanta"] = "quanta"
    axes: list[int] | None = Field(
        default=None,
        description="sizes of the axes each input is reshaped into (padded with zeros to their product, which must "
        "reach the widest adapted module); null = `d` equal axes per module",
    )
    d: int = Field(default=4, ge=2, le=8, description="number of axes when `axes` is null")
    scale: float = Field(default=1.0, gt=0.0, description="the update is multiplied by this")

    @field_validator("axes")
    @classmethod
    def _valid_axes(cls, axes: list[int] | None) -> list[int] | None:
        if axes is not None and (len(axes) < 2 or any(size < 1 for size in axes)):
            raise ValueError("give at least two positive axis sizes, e.g. [8, 4, 4] for a width of 128")
        return axes

    def axes_for(self, in_features: int, out_features: int) -> list[int]:
        width = max(in_features, out_features)
        axes = self.axes or equal_axes(width, self.d)
        if math.prod(axes) < width:
            raise QwthnError(f"QuanTA axes {axes} hold {math.prod(axes)} features, fewer than this module's {width}; "
                             "give axes whose product is at least the widest adapted module")  # fmt: skip
        return axes

    def describe(self) -> str:
        return f"QuanTA axes={self.axes}" if self.axes else f"QuanTA d={self.d}"

    @property
    def runs_circuits(self) -> bool:
        return False
