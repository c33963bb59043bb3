"""Calibration files for the Wukong tests: the project's synthetic set always, the public snapshot when present.

A fresh clone (CI) has no `../shared/wukong72`, so the loader and physics tests run on the synthetic files
of `data/` (see data/README.md); the public 2026-03 snapshot, which must never be copied into the project,
adds its own cases (with its published figures) only where it lies beside the repository. Tests are
parametrized over `calibration_sets()`, so a missing snapshot means fewer cases, not skipped ones.
Set QWTHN_WUKONG_SNAPSHOTS to another folder (e.g. a missing one, to run as a fresh clone does).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

SNAPSHOTS_ENV = "QWTHN_WUKONG_SNAPSHOTS"
HERE = Path(__file__).resolve().parent
SNAPSHOT_DIR = Path(os.environ.get(SNAPSHOTS_ENV) or HERE.parents[2].parent / "shared" / "wukong72")
SYNTHETIC_DIR = HERE / "data"

CHIP, CLOUD, NOISE = "origin chip config", "origin cloud config", "noise profile"
"""The formats, named as the loader's `ChipProfile.source`."""
SHORT = {CHIP: "chip", CLOUD: "cloud", NOISE: "noise"}


def _load_script() -> ModuleType:
    """data/make_synthetic.py, whose tables are the values the synthetic files were written from."""
    spec = importlib.util.spec_from_file_location("wukong_make_synthetic", SYNTHETIC_DIR / "make_synthetic.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synthetic = _load_script()


@dataclass(frozen=True)
class CalibrationSet:
    """One file per format, and the figures known of the calibration they describe."""

    name: str
    folder: Path
    files: Mapping[str, str]
    """Format -> file name."""
    same_chip: tuple[str, ...]
    """Formats holding one and the same calibration: they load to the same qubits and couplers."""
    counts: tuple[int, int]
    """(calibrated qubits, usable couplers) of the `same_chip` files."""
    largest_component: int
    """Qubits in their largest connected set of calibrated qubits."""
    medians: Mapping[str, float]
    medians_rel: float
    """Relative tolerance on `medians` (published figures are rounded)."""

    def path(self, source: str) -> Path:
        return self.folder / self.files[source]

    @property
    def present(self) -> bool:
        return all(self.path(source).is_file() for source in self.files)


def _synthetic_medians() -> dict[str, float]:
    """Medians of the script's tables, figured without the loader."""
    columns = list(zip(*synthetic.QUBITS.values(), strict=True))
    keys = ("t1_us", "t2_us", "single_fidelity", "readout_p00", "readout_p11")
    figures = {key: statistics.median(column) for key, column in zip(keys, columns, strict=True)}
    return {**figures, "cz_fidelity": statistics.median(synthetic.COUPLERS.values())}


SYNTHETIC = CalibrationSet(
    "synthetic",
    SYNTHETIC_DIR,
    {
        CHIP: "chip_config_synthetic.json",
        CLOUD: "cloud_chip_config_synthetic.json",
        NOISE: "noise_profile_synthetic.json",
    },
    same_chip=(CHIP, CLOUD, NOISE),
    counts=(len(synthetic.QUBITS), len(synthetic.COUPLERS)),
    largest_component=9,  # the 3 x 3 patch; qubit 71 stands alone
    medians=_synthetic_medians(),
    medians_rel=1e-12,
)

PUBLISHED = {
    "t1_us": 18.0,
    "t2_us": 5.0,
    "single_fidelity": 0.998,
    "cz_fidelity": 0.963,
    "readout_p00": 0.956,
    "readout_p11": 0.821,
}
"""The published medians of the 2026-03 snapshot, as its README quotes them (and the default profile uses)."""

SNAPSHOT = CalibrationSet(
    "snapshot",
    SNAPSHOT_DIR,
    {
        CHIP: "chip_config_2026-03-08.json",  # a 2024-06 calibration despite its name: not `same_chip`
        CLOUD: "cloud_chip_config_2026-03-08.json",
        NOISE: "noise_profile_2026-03-08.json",
    },
    same_chip=(CLOUD, NOISE),
    counts=(63, 54),  # README of the snapshots: 63 qubits / 54 couplers in 2026-03
    largest_component=27,  # read off the 2026-03 files (parts of 27, 18, 3, 2, ... qubits)
    medians=PUBLISHED,
    medians_rel=0.05,
)


def calibration_sets() -> list[CalibrationSet]:
    """The synthetic set, then the public snapshot where it is present."""
    return [SYNTHETIC] + ([SNAPSHOT] if SNAPSHOT.present else [])


def set_params() -> list:
    """`pytest.param`s of each available set, for `parametrize("data", ...)`."""
    return [pytest.param(data, id=data.name) for data in calibration_sets()]


def file_params(*sources: str, same_chip: bool = False) -> list:
    """`pytest.param`s of (set, format) for the given formats (all three if none), for `parametrize("data, source")`."""
    return [
        pytest.param(data, source, id=f"{data.name}-{SHORT[source]}")
        for data in calibration_sets()
        for source in sources or tuple(data.files)
        if not same_chip or source in data.same_chip
    ]
