"""`ChipProfile`: what the simulator knows about the chip, per physical qubit and per coupler.

A qubit or coupler missing from a profile is *uncalibrated* and never used. The built-in default
profile puts the published median figures of Wukong 72 on every qubit and coupler of the grid.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from qwthn_wukong.topology import N_QUBITS, edge, grid_couplers, position

RPHI_NS = 30.0
CZ_NS = 40.0
MAX_SHOTS = 20000

# Published medians of the 2026-03 public calibration snapshot (rounded, as quoted in the docs).
MEDIAN_T1_US = 18.0
MEDIAN_T2_US = 5.0
MEDIAN_SINGLE_FIDELITY = 0.998
MEDIAN_CZ_FIDELITY = 0.963
MEDIAN_READOUT = (0.956, 0.821)


@dataclass(frozen=True)
class QubitCalibration:
    t1_us: float
    t2_us: float
    single_fidelity: float
    """Average gate fidelity of a physical single-qubit gate (RPhi)."""
    readout: tuple[float, float]
    """(P(0|0), P(1|1))."""
    position: tuple[int, int]
    """(row, column) on the grid."""

    @property
    def readout_fidelity(self) -> float:
        return 0.5 * (self.readout[0] + self.readout[1])


@dataclass(frozen=True)
class ChipProfile:
    name: str
    qubits: dict[int, QubitCalibration]
    """Calibrated qubits only."""
    couplers: dict[tuple[int, int], float]
    """CZ average gate fidelity per calibrated coupler (a, b), a < b, both ends calibrated."""
    n_qubits: int = N_QUBITS
    single_gate_ns: float = RPHI_NS
    cz_gate_ns: float = CZ_NS
    max_shots: int = MAX_SHOTS
    source: str = "built-in default"
    _neighbours: dict[int, tuple[int, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        usable = {pair: f for pair, f in self.couplers.items() if pair[0] in self.qubits and pair[1] in self.qubits}
        object.__setattr__(self, "couplers", usable)
        neighbours: dict[int, list[int]] = {qubit: [] for qubit in self.qubits}
        for a, b in usable:
            neighbours[a].append(b)
            neighbours[b].append(a)
        self._neighbours.update({qubit: tuple(sorted(nbrs)) for qubit, nbrs in neighbours.items()})

    def neighbours(self, qubit: int) -> tuple[int, ...]:
        return self._neighbours.get(qubit, ())

    def cz_fidelity(self, a: int, b: int) -> float | None:
        return self.couplers.get(edge(a, b))

    def components(self) -> list[list[int]]:
        """Connected components of the usable coupling graph, largest first."""
        seen: set[int] = set()
        found = []
        for start in sorted(self.qubits):
            if start in seen:
                continue
            seen.add(start)
            queue, part = deque([start]), []
            while queue:
                qubit = queue.popleft()
                part.append(qubit)
                for other in self.neighbours(qubit):
                    if other not in seen:
                        seen.add(other)
                        queue.append(other)
            found.append(sorted(part))
        return sorted(found, key=len, reverse=True)

    def largest_component(self) -> int:
        parts = self.components()
        return len(parts[0]) if parts else 0

    def medians(self) -> dict[str, float]:
        qubits = list(self.qubits.values())
        if not qubits:
            return {}
        figures = {
            "t1_us": statistics.median(q.t1_us for q in qubits),
            "t2_us": statistics.median(q.t2_us for q in qubits),
            "single_fidelity": statistics.median(q.single_fidelity for q in qubits),
            "readout_p00": statistics.median(q.readout[0] for q in qubits),
            "readout_p11": statistics.median(q.readout[1] for q in qubits),
        }
        if self.couplers:
            figures["cz_fidelity"] = statistics.median(self.couplers.values())
        return figures


def default_profile() -> ChipProfile:
    """Every qubit and coupler of the grid at the published medians (an idealised, uniform Wukong 72)."""
    qubits = {
        qubit: QubitCalibration(MEDIAN_T1_US, MEDIAN_T2_US, MEDIAN_SINGLE_FIDELITY, MEDIAN_READOUT, position(qubit))
        for qubit in range(N_QUBITS)
    }
    couplers = dict.fromkeys(grid_couplers(), MEDIAN_CZ_FIDELITY)
    return ChipProfile("wukong72-default", qubits, couplers)
