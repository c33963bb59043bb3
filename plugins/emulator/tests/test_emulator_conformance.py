"""The emulator passes the core's backend conformance suite (`qwthn-backend-test emulator`), in both precisions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("options", [{}, {"dtype": "complex128"}], ids=["complex64", "complex128"])
def test_emulator_passes_the_conformance_suite(options, tmp_path):
    script = Path(sys.executable).with_name("qwthn-backend-test")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "qwthn.testing.cli"]
    command += ["emulator", "--options", json.dumps(options), "-v", "-rfEs", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    reasons = re.findall(r"^SKIPPED \[\d+\] \S+: (.*)$", result.stdout, flags=re.MULTILINE)
    # skips only for what the emulator declares: no controlled rotations, no max_batch, no coupling map
    # (and CUDA, which it declares, where this machine has none)
    assert reasons and all("declares" in reason for reason in reasons), result.stdout
    for expected in ("no CRX gate", "no max_batch", "no coupling map"):
        assert any(expected in reason for reason in reasons), (expected, reasons)
    assert re.search(r"test_random_circuits_match_reference\[probs\] PASSED", result.stdout), result.stdout
