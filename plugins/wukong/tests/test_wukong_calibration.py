"""Calibration formats, the default profile and the grid rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwthn.errors import QwthnError
from qwthn_wukong.calibration import load_calibration, profile_from_data
from qwthn_wukong.profile import default_profile
from qwthn_wukong.topology import GRID_COUPLERS, N_QUBITS, position

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "wukong72"
SNAPSHOTS = {
    "chip_config_2026-03-08.json": "origin chip config",
    "cloud_chip_config_2026-03-08.json": "origin cloud config",
    "noise_profile_2026-03-08.json": "noise profile",
}
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="public calibration snapshots not present")

# The published medians quoted in the README of the snapshots (and used by the default profile).
PUBLISHED = {
    "t1_us": 18.0,
    "t2_us": 5.0,
    "single_fidelity": 0.998,
    "cz_fidelity": 0.963,
    "readout_p00": 0.956,
    "readout_p11": 0.821,
}


def test_grid_rule():
    assert N_QUBITS == 72 and len(GRID_COUPLERS) == 126
    assert position(0) == (0, 0) and position(71) == (11, 5) and position(13) == (2, 1)
    assert (5, 6) not in GRID_COUPLERS and (0, 1) in GRID_COUPLERS and (0, 6) in GRID_COUPLERS


def test_default_profile_has_every_qubit_and_coupler_at_the_medians():
    profile = default_profile()
    assert len(profile.qubits) == 72 and len(profile.couplers) == 126
    assert profile.largest_component() == 72
    assert (profile.single_gate_ns, profile.cz_gate_ns, profile.max_shots) == (30.0, 40.0, 20000)
    medians = profile.medians()
    for key, value in PUBLISHED.items():
        assert medians[key] == pytest.approx(value, rel=0.10), key


@needs_data
@pytest.mark.parametrize("filename", sorted(SNAPSHOTS))
def test_each_format_loads_and_is_autodetected(filename):
    profile = load_calibration(DATA / filename)
    assert profile.source == SNAPSHOTS[filename]
    assert 0 < len(profile.qubits) < 72 and 0 < len(profile.couplers) < 126
    assert set(profile.couplers) <= GRID_COUPLERS
    for a, b in profile.couplers:  # a coupler is usable only if both its qubits are
        assert a in profile.qubits and b in profile.qubits
    for qubit, calibration in profile.qubits.items():
        assert calibration.position == position(qubit)
        assert calibration.t1_us > 0 and calibration.t2_us > 0
        assert 0 < calibration.single_fidelity <= 1 and all(0 < p <= 1 for p in calibration.readout)


@needs_data
def test_uncalibrated_entries_are_unusable():
    cloud = json.loads((DATA / "cloud_chip_config_2026-03-08.json").read_text())
    empty = {int(q) for q, params in cloud["adjJSON"].items() if not params["T1"]}
    profile = profile_from_data(cloud, "cloud")
    assert empty and not empty & set(profile.qubits)
    assert all(a not in empty and b not in empty for a, b in profile.couplers)
    config = json.loads((DATA / "chip_config_2026-03-08.json").read_text())
    zero_t1 = {int(q) for q, params in config["QubitParams"].items() if params["T1"] <= 0}
    not_available = set(range(72)) - set(config["AvailableQubits"])
    loaded = profile_from_data(config, "config")
    assert zero_t1 and not (zero_t1 | not_available) & set(loaded.qubits)


@needs_data
@pytest.mark.parametrize("filename", ["cloud_chip_config_2026-03-08.json", "noise_profile_2026-03-08.json"])
def test_2026_03_medians_match_the_published_figures(filename):
    profile = load_calibration(DATA / filename)
    assert len(profile.qubits) == 63 and len(profile.couplers) == 54  # README: 63 / 54 in 2026-03
    medians = profile.medians()
    for key, value in PUBLISHED.items():
        assert medians[key] == pytest.approx(value, rel=0.05), key


@needs_data
def test_cloud_and_noise_profile_agree():
    cloud = load_calibration(DATA / "cloud_chip_config_2026-03-08.json")
    reduced = load_calibration(DATA / "noise_profile_2026-03-08.json")
    assert set(cloud.qubits) == set(reduced.qubits) and cloud.couplers == reduced.couplers


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ('{"hello": 1}', "not a known calibration format"),
        ("[1, 2]", "not a known calibration format"),
        ('{"profiles": {"80": {}}}', "outside the 72-qubit grid"),
        (
            '{"profiles": {"0": {"t1_us": 10, "t2star_us": 5, "single_gate_fidelity": 0.99, '
            '"readout_fidelity": [0.9, 0.8], "two_gate_fidelities": {"7": 0.9}}}}',
            "not a coupler",
        ),
        ('{"profiles": {"0": {"t1_us": "", "t2star_us": 5}}}', "no calibrated qubit"),
        (
            '{"adjJSON": {"0": {"T1": "10", "T2": "5", "averageFidelity": "0.99", "readFidelity": "0.9/0.8"}}, '
            '"gateJSON": {"0-1": {"fidelity": "0.9"}}}',
            "form 'a_b'",
        ),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(QwthnError, match=message) as error:
        load_calibration(path)
    assert "\n" not in str(error.value)


def test_missing_file_is_one_line_error(tmp_path):
    with pytest.raises(QwthnError, match="cannot read calibration file"):
        load_calibration(tmp_path / "absent.json")
