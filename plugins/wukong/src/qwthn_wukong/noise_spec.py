"""The noise a placed circuit meets on the chip, per logical wire and per coupled pair.

The interface between the chip model (calibration, placement, native decomposition) and the noisy
engine: the chip model builds it from a calibration and a placement; the engine only reads it.
Depolarising strengths use the λ convention of Aer and pyqpanda3, ρ -> (1-λ) ρ + λ I/d
(Braket, Cirq and PennyLane's p relates as λ = 4p/3 for one qubit); d = 2 or 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WireNoise:
    """One logical wire, i.e. the physical qubit it was placed on."""

    depolarizing: float
    """λ after every physical single-qubit gate (virtual RZ gates are noiseless)."""
    t1_ns: float
    t2_ns: float
    readout: tuple[float, float]
    """(P(0|0), P(1|1)): the chance to read the prepared state correctly."""


@dataclass(frozen=True)
class NoiseSpec:
    wires: tuple[WireNoise, ...]
    pairs: dict[tuple[int, int], float] = field(default_factory=dict)
    """λ (d = 4) after every CZ on the logical pair (a, b), a < b."""
    single_gate_ns: float = 30.0
    cz_gate_ns: float = 40.0
    scale: float = 1.0
    """0: ideal; 1: as calibrated; > 1: worse (errors and decay rates multiplied, capped at physical limits)."""
