"""The Braket backend passes the core's conformance suite (`qwthn-backend-test braket`) on both local simulators.

braket_sv runs by default (about 35-45 s on a shared 2-core machine). braket_dm takes 90-165 s
there, mostly in the random circuits up to 10 qubits (a 10-qubit density matrix per row: 95 of
165 s in one run) and the 201-row chunking test (19 s); it runs when QWTHN_BRAKET_SLOW=1.
Noisy configurations are not run through the suite: they are meant to differ from the
noiseless reference (test_braket_backend.py checks them against closed forms).
"""

from __future__ import annotations

import os
import re

import pytest

from qwthn.testing.runner import run_suite

SLOW = os.environ.get("QWTHN_BRAKET_SLOW") == "1"


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.mark.parametrize(
    "options",
    [
        {},
        # the density-matrix simulator at the suite's full 10 qubits takes 1.5-3 min here; capped by the
        # declared max_qubits and max_batch it runs every check in seconds (QWTHN_BRAKET_SLOW=1: uncapped)
        {"device": "braket_dm"} if SLOW else {"device": "braket_dm", "max_qubits": 5, "max_batch": 8},
    ],
    ids=["braket_sv", "braket_dm"],
)
def test_braket_passes_the_conformance_suite(options, tmp_path):
    result = run_suite("braket", options, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.report
    reasons = result.skip_reasons
    # skips only for what braket declares: CPU only, no coupling map, every gate of the table
    assert reasons and all("declares" in reason for reason in reasons), result.stdout
    assert len(reasons) == 4, reasons
    for expected in ("only devices ['cpu']", "no coupling map", "every gate of the gate table", "core rewrites none"):
        assert any(expected in reason for reason in reasons), (expected, reasons)
    for test in (
        "test_batch_sizes\\[2\\*max_batch\\+1\\]",
        "test_shots_are_reproducible_with_a_seed",
        "test_gradients_match_finite_differences\\[probs\\]",
        "test_random_circuits_match_reference\\[probs\\]",
    ):
        assert re.search(rf"{test} PASSED", result.stdout), (test, result.stdout[-3000:])
