"""Write the synthetic Wukong calibration files of this folder, one per format the loader reads.

The values are the project's own, picked by hand in plausible ranges (no public snapshot was copied):
a 3 x 3 patch of the grid (qubits 0-2, 6-8, 12-14) plus the isolated corner qubit 71, with a poor
corner (qubit 0, coupler 0-1) and a good one (qubit 8, coupler 7-8) so that the physics tests have
something to tell apart. Each file also holds the entries the loader must drop: qubit 3 (empty or zero
figures), coupler 13-14 (no fidelity), couplers 2-3 (and, in the chip config, 8-9) touching an
unusable qubit, and in the chip config qubit 9, calibrated but not in `AvailableQubits`.

The tests import the tables below as the expected values and check that the files are exactly what
this script writes. Rerun after editing a table: `python plugins/wukong/tests/data/make_synthetic.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COLUMNS = 6
"""Qubit q of Wukong's 12 x 6 grid sits at row q // 6, column q % 6 (for the cloud `site` only)."""

QUBITS: dict[int, tuple[float, float, float, float, float]] = {
    # qubit: (T1 us, T2 us, single-gate fidelity, P(0|0), P(1|1))
    0: (9.6, 2.2, 0.9962, 0.912, 0.741),
    1: (14.3, 3.1, 0.9968, 0.928, 0.786),
    2: (21.7, 6.4, 0.9985, 0.951, 0.872),
    6: (17.2, 4.8, 0.9979, 0.944, 0.833),
    7: (26.5, 8.9, 0.9991, 0.978, 0.918),
    8: (29.4, 9.7, 0.9993, 0.983, 0.931),
    12: (12.8, 2.9, 0.9971, 0.936, 0.804),
    13: (19.9, 5.6, 0.9983, 0.962, 0.857),
    14: (16.1, 4.2, 0.9976, 0.949, 0.815),
    71: (23.0, 7.5, 0.9987, 0.969, 0.889),
}
"""The calibrated qubits: what every file must load to."""

COUPLERS: dict[tuple[int, int], float] = {
    (0, 1): 0.9046,
    (0, 6): 0.9388,
    (1, 2): 0.9517,
    (1, 7): 0.9702,
    (2, 8): 0.9785,
    (6, 7): 0.9634,
    (6, 12): 0.9455,
    (7, 8): 0.9871,
    (7, 13): 0.9746,
    (8, 14): 0.9689,
    (12, 13): 0.9571,
}
"""The usable couplers (CZ average gate fidelity): what every file must load to."""

UNCALIBRATED_QUBIT = 3
UNAVAILABLE_QUBIT = 9
"""Chip config only: calibrated figures, but left out of `AvailableQubits`."""
UNCALIBRATED_COUPLER = (13, 14)
DROPPED_COUPLERS: dict[tuple[int, int], float] = {(2, 3): 0.9602}
"""Calibrated couplers touching an unusable qubit: listed in every file, never usable."""
CHIP_ONLY_DROPPED: dict[tuple[int, int], float] = {(8, 9): 0.9533}
CLOCKS = {"RPhi": 32, "CZ": 48}
"""Chip config gate clocks (ns), off the loader's defaults (30, 40) so that reading them is seen."""
MAX_SHOTS = 10000


def _mat(p00: float, p11: float) -> list[list[float]]:
    """Column-stochastic readout matrix [[P(0|0), P(0|1)], [P(1|0), P(1|1)]]."""
    return [[p00, round(1 - p11, 4)], [round(1 - p00, 4), p11]]


def _pairs(couplers: dict[tuple[int, int], float]) -> dict[int, dict[int, float]]:
    """Each coupler from both ends, as the adjacency-style formats list it."""
    ends: dict[int, dict[int, float]] = {}
    for (a, b), fidelity in couplers.items():
        ends.setdefault(a, {})[b] = fidelity
        ends.setdefault(b, {})[a] = fidelity
    return {qubit: dict(sorted(ends[qubit].items())) for qubit in sorted(ends)}


def chip_config() -> dict[str, Any]:
    """Origin's simulator chip description (`ChipArchConfig_72`), reduced to the keys the loader reads."""
    params = {
        str(q): {"T1": t1, "T2": t2, "ReadoutFidelity": round((p00 + p11) / 2, 4), "SingleGateFidelity": f1,
                 "FidelityMat": _mat(p00, p11)}
        for q, (t1, t2, f1, p00, p11) in QUBITS.items()
    }  # fmt: skip
    params[str(UNCALIBRATED_QUBIT)] = {"T1": 0.0, "T2": 3.3, "ReadoutFidelity": 0.88, "SingleGateFidelity": 0.9975,
                                       "FidelityMat": _mat(0.93, 0.83)}  # fmt: skip
    params[str(UNAVAILABLE_QUBIT)] = {"T1": 15.5, "T2": 4.0, "ReadoutFidelity": 0.9, "SingleGateFidelity": 0.998,
                                      "FidelityMat": _mat(0.95, 0.85)}  # fmt: skip
    couplers = {**COUPLERS, UNCALIBRATED_COUPLER: 0.0, **DROPPED_COUPLERS, **CHIP_ONLY_DROPPED}
    return {
        "QubitCount": 72,
        "AdjMatrix": {str(q): [{"v": o, "w": f} for o, f in ends.items()] for q, ends in _pairs(couplers).items()},
        "QubitParams": dict(sorted(params.items(), key=lambda item: int(item[0]))),
        "AvailableQubits": sorted([*QUBITS, UNCALIBRATED_QUBIT]),
        "QGateClock": CLOCKS,
        "BasicQGate": ["RPhi", "CZ"],
        "MaxShots": MAX_SHOTS,
    }


def cloud_config() -> dict[str, Any]:
    """Origin's cloud configuration: figures as strings, "" where uncalibrated, `site` in pixels."""
    qubits: dict[str, dict[str, Any]] = {}
    for q in sorted([*QUBITS, UNCALIBRATED_QUBIT]):
        t1, t2, f1, p00, p11 = QUBITS.get(q, ("", "", "", "", ""))
        calibrated = q in QUBITS
        qubits[str(q)] = {
            "name": q,
            "T1": str(t1),
            "T2": str(t2),
            "averageFidelity": str(f1),
            "readFidelity": f"{p00}/{p11}" if calibrated else "",
            "ReadoutFidelity": str(round((p00 + p11) / 2, 4)) if calibrated else "",
            "site": {"x": 100 + 90 * (q % COLUMNS), "y": 100 + 90 * (q // COLUMNS)},
        }
    gates = {**COUPLERS, UNCALIBRATED_COUPLER: "", **DROPPED_COUPLERS}
    return {
        "qubitNum": 72,
        "basicLogicGate": "U3,CZ",
        "adjJSON": qubits,
        "gateJSON": {
            f"{a}_{b}": {"fidelity": str(f), "changeTime": "2026-01-01 00:00:00"} for (a, b), f in gates.items()
        },
        "updateTime": "2026-01-01 00:00:00",
    }


def noise_profile() -> dict[str, Any]:
    """Per-qubit profiles of calibrated qubits only; their CZ fidelities to neighbours."""
    ends = _pairs({**COUPLERS, **DROPPED_COUPLERS})
    profiles = {
        str(q): {
            "single_gate_fidelity": f1,
            "readout_fidelity": [p00, p11],
            "two_gate_fidelities": {str(o): f for o, f in ends.get(q, {}).items()},
            "t1_us": t1,
            "t2star_us": t2,
        }
        for q, (t1, t2, f1, p00, p11) in QUBITS.items()
    }
    return {
        "chip": "synthetic Wukong 72 patch",
        "source": "qwthn tests (synthetic)",
        "num_qubits": len(QUBITS),
        "num_connections": len(COUPLERS),
        "profiles": profiles,
    }


FILES: dict[str, Callable[[], dict[str, Any]]] = {
    "chip_config_synthetic.json": chip_config,
    "cloud_chip_config_synthetic.json": cloud_config,
    "noise_profile_synthetic.json": noise_profile,
}


def render(build: Callable[[], dict[str, Any]]) -> str:
    """The exact text written for one file."""
    return json.dumps(build(), indent=1) + "\n"


def main() -> None:
    for name, build in FILES.items():
        (HERE / name).write_text(render(build), encoding="utf-8")


if __name__ == "__main__":
    main()
