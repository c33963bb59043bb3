"""The gate table: the single source of gate semantics in qwthn.

Each `GateSpec` says how many wires and angles a gate takes, its matrix, and the
shift rule that differentiates it exactly. The emulator builds its kernels from
it, the NumPy reference used by the conformance suite applies its matrices, and
every vendor translator maps names from it. Adding a gate here makes it *known*;
a backend runs it only once the backend lists it in `Capabilities.native_gates`.

Matrix convention: a rotation R_P(theta) = exp(-i theta P / 2); a two-qubit
matrix is indexed with the gate's first wire (the control) as the most
significant bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qwthn.errors import QwthnError

PAULI = {
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


@dataclass(frozen=True)
class ShiftRule:
    """d f / d theta = sum_k coefficient_k * f(theta + shift_k), exactly, for f an expectation value."""

    terms: tuple[tuple[float, float], ...]
    """(coefficient, shift) pairs."""

    @property
    def shifts(self) -> tuple[float, ...]:
        return tuple(shift for _, shift in self.terms)

    @property
    def coefficients(self) -> tuple[float, ...]:
        return tuple(coefficient for coefficient, _ in self.terms)


TWO_TERM = ShiftRule(((0.5, math.pi / 2), (-0.5, -math.pi / 2)))
"""Generators with eigenvalues +-1/2 (every Pauli rotation)."""

_C_PLUS = (math.sqrt(2) + 1) / (4 * math.sqrt(2))
_C_MINUS = (math.sqrt(2) - 1) / (4 * math.sqrt(2))
FOUR_TERM = ShiftRule(
    ((_C_PLUS, math.pi / 2), (-_C_PLUS, -math.pi / 2), (-_C_MINUS, 3 * math.pi / 2), (_C_MINUS, -3 * math.pi / 2))
)
"""Generators with eigenvalues {0, +-1/2} (controlled rotations): two frequencies, so four terms."""


@dataclass(frozen=True)
class GateSpec:
    """What a gate is. `pauli` is set for one-qubit rotations exp(-i theta P / 2)."""

    name: str
    n_wires: int
    n_angles: int
    matrix: Callable[[float], np.ndarray]
    """angle -> [2^n_wires, 2^n_wires] complex matrix (the angle is ignored by fixed gates)."""
    shift_rule: ShiftRule | None = None
    pauli: str | None = None
    diagonal: bool = False
    real: bool = False
    """Real matrix for every angle: a state that meets only real gates stays real."""

    @property
    def parametrised(self) -> bool:
        return self.n_angles > 0


def _rotation(pauli: str) -> Callable[[float], np.ndarray]:
    def matrix(theta: float) -> np.ndarray:
        return math.cos(theta / 2) * np.eye(2, dtype=complex) - 1j * math.sin(theta / 2) * PAULI[pauli]

    return matrix


def _controlled(target: Callable[[float], np.ndarray]) -> Callable[[float], np.ndarray]:
    def matrix(theta: float) -> np.ndarray:
        full = np.eye(4, dtype=complex)
        full[2:, 2:] = target(theta)
        return full

    return matrix


def _fixed(values: list[list[complex]]) -> Callable[[float], np.ndarray]:
    constant = np.array(values, dtype=complex)
    constant.setflags(write=False)
    return lambda _theta=0.0: constant.copy()


_ROOT_HALF = math.sqrt(0.5)

GATES: dict[str, GateSpec] = {
    spec.name: spec
    for spec in (
        GateSpec("RX", 1, 1, _rotation("X"), TWO_TERM, pauli="X"),
        GateSpec("RY", 1, 1, _rotation("Y"), TWO_TERM, pauli="Y", real=True),
        GateSpec("RZ", 1, 1, _rotation("Z"), TWO_TERM, pauli="Z", diagonal=True),
        GateSpec("H", 1, 0, _fixed([[_ROOT_HALF, _ROOT_HALF], [_ROOT_HALF, -_ROOT_HALF]]), real=True),
        GateSpec("X", 1, 0, _fixed([[0, 1], [1, 0]]), real=True),
        GateSpec("CZ", 2, 0, _fixed(np.diag([1, 1, 1, -1]).tolist()), diagonal=True, real=True),
        GateSpec(
            "CNOT", 2, 0, _fixed([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]), real=True
        ),
        GateSpec("CRX", 2, 1, _controlled(_rotation("X")), FOUR_TERM),
        GateSpec("CRY", 2, 1, _controlled(_rotation("Y")), FOUR_TERM, real=True),
        GateSpec("CRZ", 2, 1, _controlled(_rotation("Z")), FOUR_TERM, diagonal=True),
    )
}


def gate_spec(name: str) -> GateSpec:
    """The spec of a known gate; an unknown name is a one-line error listing the known ones."""
    spec = GATES.get(name)
    if spec is None:
        raise QwthnError(f"unknown gate {name!r}; the gate table knows {sorted(GATES)}")
    return spec
