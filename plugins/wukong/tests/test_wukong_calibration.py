"""Calibration formats, the default profile and the grid rule.

Format tests run on the synthetic files of data/ always and on the public snapshot when present (wukong_data).
"""

from __future__ import annotations

import json

import pytest
from wukong_data import CHIP, CLOUD, NOISE, PUBLISHED, SYNTHETIC, file_params, set_params, synthetic

from qwthn.errors import QwthnError
from qwthn_wukong.calibration import load_calibration, profile_from_data
from qwthn_wukong.profile import QubitCalibration, default_profile
from qwthn_wukong.topology import GRID_COUPLERS, N_QUBITS, position


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


@pytest.mark.parametrize(("data", "source"), file_params())
def test_each_format_loads_and_is_autodetected(data, source):
    profile = load_calibration(data.path(source))
    assert profile.source == source
    assert 0 < len(profile.qubits) < 72 and 0 < len(profile.couplers) < 126
    assert set(profile.couplers) <= GRID_COUPLERS
    for a, b in profile.couplers:  # a coupler is usable only if both its qubits are
        assert a in profile.qubits and b in profile.qubits
    for qubit, calibration in profile.qubits.items():
        assert calibration.position == position(qubit)
        assert calibration.t1_us > 0 and calibration.t2_us > 0
        assert 0 < calibration.single_fidelity <= 1 and all(0 < p <= 1 for p in calibration.readout)


@pytest.mark.parametrize("source", [CHIP, CLOUD, NOISE], ids=["chip", "cloud", "noise"])
def test_synthetic_files_load_to_the_values_written(source):
    """Every figure of every format lands on the right qubit or coupler; unusable entries are dropped."""
    profile = load_calibration(SYNTHETIC.path(source))
    expected = {
        qubit: QubitCalibration(t1, t2, f1, (p00, p11), (qubit // 6, qubit % 6))
        for qubit, (t1, t2, f1, p00, p11) in synthetic.QUBITS.items()
    }
    assert profile.qubits == expected  # no qubit 3 (empty/zero figures) nor 9 (not in AvailableQubits)
    assert profile.couplers == synthetic.COUPLERS  # no 13-14 (no fidelity), 2-3 and 8-9 (an unusable end)
    assert profile.neighbours(7) == (1, 6, 8, 13) and profile.neighbours(71) == () and profile.neighbours(3) == ()
    assert [len(part) for part in profile.components()] == [9, 1]
    clocks = (
        (synthetic.CLOCKS["RPhi"], synthetic.CLOCKS["CZ"], synthetic.MAX_SHOTS) if source == CHIP else (30, 40, 20000)
    )
    assert (profile.single_gate_ns, profile.cz_gate_ns, profile.max_shots) == clocks


@pytest.mark.parametrize("filename", sorted(synthetic.FILES))
def test_synthetic_files_are_what_the_script_writes(filename):
    """The committed files and the tables the tests expect cannot drift apart."""
    assert (SYNTHETIC.folder / filename).read_text(encoding="utf-8") == synthetic.render(synthetic.FILES[filename])
    assert sorted(SYNTHETIC.files.values()) == sorted(synthetic.FILES)


@pytest.mark.parametrize("data", set_params())
def test_uncalibrated_entries_are_unusable(data):
    cloud = json.loads(data.path(CLOUD).read_text())
    empty = {int(q) for q, params in cloud["adjJSON"].items() if not params["T1"]}
    profile = profile_from_data(cloud, "cloud")
    assert empty and not empty & set(profile.qubits)
    assert all(a not in empty and b not in empty for a, b in profile.couplers)
    config = json.loads(data.path(CHIP).read_text())
    zero_t1 = {int(q) for q, params in config["QubitParams"].items() if params["T1"] <= 0}
    not_available = set(range(72)) - set(config["AvailableQubits"])
    loaded = profile_from_data(config, "config")
    assert zero_t1 and not (zero_t1 | not_available) & set(loaded.qubits)


@pytest.mark.parametrize(("data", "source"), file_params(same_chip=True))
def test_medians_match_the_known_figures(data, source):
    """Synthetic: the medians of the tables written; snapshot: the published 2026-03 figures."""
    profile = load_calibration(data.path(source))
    assert (len(profile.qubits), len(profile.couplers)) == data.counts
    assert profile.largest_component() == data.largest_component
    medians = profile.medians()
    assert medians.keys() == data.medians.keys()
    for key, value in data.medians.items():
        assert medians[key] == pytest.approx(value, rel=data.medians_rel), key


@pytest.mark.parametrize("data", set_params())
def test_formats_of_one_calibration_agree(data):
    first, *others = (load_calibration(data.path(source)) for source in data.same_chip)
    assert others
    for other in others:  # every figure of every qubit and coupler, not only which ones are usable
        assert other.qubits == first.qubits and other.couplers == first.couplers


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
