"""`qwthn chip`: draws the chip to a PNG and prints a summary table; bad input is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "wukong72"


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


@pytest.mark.skipif(not DATA.is_dir(), reason="public calibration snapshots not present")
def test_chip_draws_a_snapshot(tmp_path):
    output = tmp_path / "out" / "wk.png"
    result = qwthn(
        "chip", "--calibration", str(DATA / "noise_profile_2026-03-08.json"), "--output", str(output), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert output.read_bytes()[:4] == b"\x89PNG" and "63 of 72" in result.stdout


def test_chip_bad_calibration_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"what": 1}')
    result = qwthn("chip", "--calibration", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not a known calibration format" in result.stderr
    assert not (tmp_path / "chip.png").exists()
