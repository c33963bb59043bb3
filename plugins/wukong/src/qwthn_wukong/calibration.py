"""Loaders for the three public Wukong calibration formats, autodetected by content.

- Origin chip config (`chip_config_*.json`, `ChipArchConfig_72`): `QubitParams`, `AdjMatrix`,
  `AvailableQubits`, `QGateClock`, `MaxShots`. T1/T2 in microseconds; readout from the
  column-stochastic `FidelityMat` [[P(0|0), P(0|1)], [P(1|0), P(1|1)]].
- Origin cloud config (`cloud_chip_config_*.json`): `adjJSON` per qubit (`readFidelity`
  "P(0|0)/P(1|1)", `T1`, `T2`, `averageFidelity`) and `gateJSON` per "a_b" CZ pair.
- Noise profile (`noise_profile_*.json`): `profiles` per qubit (`single_gate_fidelity`,
  `readout_fidelity` [P(0|0), P(1|1)], `two_gate_fidelities`, `t1_us`, `t2star_us`).

A qubit with a missing, empty or non-positive figure is uncalibrated (unusable), as is a coupler
touching one. Anything else that does not fit is a one-line `QwthnError`.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

from qwthn.errors import QwthnError
from qwthn.files import read_user_text
from qwthn_wukong.profile import CZ_NS, MAX_SHOTS, RPHI_NS, ChipProfile, QubitCalibration
from qwthn_wukong.topology import N_QUBITS, edge, is_grid_coupler, position


class _Skip(Exception):
    """This entry is uncalibrated."""


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Skip from None
    if not math.isfinite(number) or number <= 0:
        raise _Skip
    return number


def _probability(value: Any) -> float:
    number = _number(value)
    if number > 1:
        raise _Skip
    return number


def _qubit(key: Any, where: str) -> int:
    try:
        qubit = int(key)
    except (TypeError, ValueError):
        raise QwthnError(f"{where}: qubit id {key!r} is not an integer") from None
    if not 0 <= qubit < N_QUBITS:
        raise QwthnError(f"{where}: qubit {qubit} is outside the 72-qubit grid 0..{N_QUBITS - 1}")
    return qubit


def _calibration(t1: Any, t2: Any, single: Any, p00: Any, p11: Any, qubit: int) -> QubitCalibration:
    return QubitCalibration(
        _number(t1), _number(t2), _probability(single), (_probability(p00), _probability(p11)), position(qubit)
    )


def _coupler(a: Any, b: Any, fidelity: Any, where: str, couplers: dict[tuple[int, int], float]) -> None:
    qa, qb = _qubit(a, where), _qubit(b, where)
    if not is_grid_coupler(qa, qb):
        raise QwthnError(f"{where}: pair ({qa}, {qb}) is not a coupler of the Wukong grid")
    with contextlib.suppress(_Skip):
        couplers[edge(qa, qb)] = _probability(fidelity)


def _from_chip_config(data: dict, name: str) -> ChipProfile:
    where = f"{name} (chip config)"
    available = {_qubit(q, where) for q in data.get("AvailableQubits", range(N_QUBITS))}
    qubits = {}
    for key, params in data["QubitParams"].items():
        qubit = _qubit(key, where)
        if qubit not in available:
            continue
        try:
            matrix = params["FidelityMat"]
            qubits[qubit] = _calibration(
                params["T1"], params["T2"], params["SingleGateFidelity"], matrix[0][0], matrix[1][1], qubit
            )
        except (_Skip, KeyError, IndexError, TypeError):
            continue
    couplers: dict[tuple[int, int], float] = {}
    for key, entries in data["AdjMatrix"].items():
        for entry in entries:
            _coupler(key, entry["v"], entry.get("w"), where, couplers)
    clocks = data.get("QGateClock", {})
    return ChipProfile(
        name,
        qubits,
        couplers,
        single_gate_ns=float(clocks.get("RPhi", RPHI_NS)),
        cz_gate_ns=float(clocks.get("CZ", CZ_NS)),
        max_shots=int(data.get("MaxShots", MAX_SHOTS)),
        source="origin chip config",
    )


def _from_cloud_config(data: dict, name: str) -> ChipProfile:
    where = f"{name} (cloud config)"
    qubits = {}
    for key, params in data["adjJSON"].items():
        qubit = _qubit(key, where)
        try:
            p00, p11 = str(params["readFidelity"]).split("/")
            qubits[qubit] = _calibration(params["T1"], params["T2"], params["averageFidelity"], p00, p11, qubit)
        except (_Skip, KeyError, ValueError):
            continue
    couplers: dict[tuple[int, int], float] = {}
    for key, params in data["gateJSON"].items():
        parts = str(key).split("_")
        if len(parts) != 2:
            raise QwthnError(f"{where}: gate key {key!r} is not of the form 'a_b'")
        _coupler(parts[0], parts[1], params.get("fidelity") if isinstance(params, dict) else None, where, couplers)
    return ChipProfile(name, qubits, couplers, source="origin cloud config")


def _from_noise_profile(data: dict, name: str) -> ChipProfile:
    where = f"{name} (noise profile)"
    qubits = {}
    couplers: dict[tuple[int, int], float] = {}
    for key, params in data["profiles"].items():
        qubit = _qubit(key, where)
        try:
            p00, p11 = params["readout_fidelity"]
            qubits[qubit] = _calibration(
                params["t1_us"], params["t2star_us"], params["single_gate_fidelity"], p00, p11, qubit
            )
        except (_Skip, KeyError, ValueError, TypeError):
            pass
        for other, fidelity in (params.get("two_gate_fidelities") or {}).items():
            _coupler(qubit, other, fidelity, where, couplers)
    return ChipProfile(name, qubits, couplers, source="noise profile")


FORMATS = {
    "chip config": (("QubitParams", "AdjMatrix"), _from_chip_config),
    "cloud config": (("adjJSON", "gateJSON"), _from_cloud_config),
    "noise profile": (("profiles",), _from_noise_profile),
}


def profile_from_data(data: Any, name: str = "calibration") -> ChipProfile:
    """A profile from already-parsed JSON of any of the three formats."""
    if isinstance(data, dict):
        for keys, loader in FORMATS.values():
            if all(isinstance(data.get(key), dict) for key in keys):
                try:
                    profile = loader(data, name)
                except QwthnError:
                    raise
                except (KeyError, TypeError, AttributeError, ValueError) as exc:
                    raise QwthnError(f"{name}: malformed calibration ({type(exc).__name__}: {exc})") from None
                if not profile.qubits:
                    raise QwthnError(f"{name}: no calibrated qubit in this calibration file")
                return profile
    raise QwthnError(
        f"{name}: not a known calibration format (expected an Origin chip config with QubitParams/AdjMatrix, "
        "a cloud config with adjJSON/gateJSON, or a noise profile with profiles)"
    )


def load_calibration(path: str | Path) -> ChipProfile:
    """Read a calibration file of any supported format; every problem is a one-line `QwthnError`."""
    path = Path(path)
    text = read_user_text(path, "calibration file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QwthnError(f"{path.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return profile_from_data(data, path.name)


def resolve_profile(calibration: str | Path | None) -> ChipProfile:
    """The built-in default profile for None, else the loaded file."""
    if calibration is None:
        from qwthn_wukong.profile import default_profile

        return default_profile()
    return load_calibration(calibration)
