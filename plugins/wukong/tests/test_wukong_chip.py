"""`qwthn chip`: draws the chip to a PNG and prints a summary table; bad input is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from wukong_data import NOISE, set_params

pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


def qwthn(*args, cwd):
    script = Path(sys.executable).with_name("qwthn")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "qwthn.cli"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_chip_draws_the_default_profile(tmp_path):
    result = qwthn("chip", "--layout-qubits", "6", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = result.stdout
    for expected in (
        "72 of 72",
        "126 of 126",
        "median T1",
        "18.00 us",
        "5.00 us",
        "0.9980",
        "0.9630",
        "0.9560",
        "0.8210",
        "6-qubit chain",
    ):
        assert expected in out, (expected, out)


@pytest.mark.parametrize("data", set_params())
def test_chip_draws_a_calibration_file(tmp_path, data):
    output = tmp_path / "out" / "wk.png"
    result = qwthn("chip", "--calibration", str(data.path(NOISE)), "--output", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    qubits, couplers = data.counts  # snapshot: 63 of 72, 54 of 126
    assert output.read_bytes()[:4] == b"\x89PNG" and f"{qubits} of 72" in result.stdout
    assert f"{couplers} of 126" in result.stdout


def test_chip_bad_calibration_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"what": 1}')
    result = qwthn("chip", "--calibration", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not a known calibration format" in result.stderr
    assert not (tmp_path / "chip.png").exists()


@pytest.mark.parametrize(("args", "fragment"), [
    (["--calibration", "latin1.json"], "is not UTF-8"),
    (["--output", "/proc/qwthn-chip.png"], "pass a writable --output"),
    (["--output", "x.txt"], "unsupported format '.txt'"),
    (["--output", "afile/chip.png"], "afile is a file, not a directory"),
    (["--output", "adir"], "adir is a directory; pass a file path, e.g. adir/output.png"),
])  # fmt: skip
def test_chip_bad_paths_are_one_line_and_write_nothing(tmp_path, args, fragment):
    (tmp_path / "latin1.json").write_bytes('{"name": "caf\u00e9"}'.encode("latin-1"))
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    before = sorted(path.name for path in tmp_path.iterdir())
    result = qwthn("chip", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr
    assert fragment in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == before and list((tmp_path / "adir").iterdir()) == []


def test_uniform_values_draw_one_colour_and_say_the_value():
    from qwthn_wukong.drawing import chip_figure, uniform_value
    from qwthn_wukong.profile import default_profile

    assert uniform_value([0.5, 0.5, 0.5]) == 0.5 and uniform_value([0.5, 0.6]) is None
    figure = chip_figure(default_profile())  # every qubit and coupler at the medians
    axes = figure.axes
    assert len(axes) == 1, "a uniform scale must not get a colour bar"
    legend = [text.get_text() for text in axes[0].get_legend().get_texts()]
    assert legend == ["qubit score: F_1q x mean readout fidelity: all 0.8867",
                      "CZ fidelity (grey: uncalibrated, unusable): all 0.9630"]  # fmt: skip


def test_varying_values_get_colour_bars_without_an_offset(tmp_path):
    from qwthn_wukong.drawing import chip_figure
    from qwthn_wukong.profile import default_profile

    profile = default_profile()
    first = next(iter(profile.couplers))
    profile.couplers[first] = profile.couplers[first] - 1e-4  # a spread small enough for an offset label
    figure = chip_figure(profile)
    assert len(figure.axes) == 2 and figure.axes[0].get_legend() is not None  # qubits uniform, CZ varies
    bar_axes = figure.axes[1]
    figure.canvas.draw()
    assert bar_axes.xaxis.get_offset_text().get_text() == ""
