"""The cirq backend passes the core's conformance suite (`qwthn-backend-test cirq`) in each meaningful configuration.

Noisy configurations are left out on purpose: the suite compares exact values with the noiseless
reference. Noise is checked against closed forms in test_cirq_noise_and_shots.py.
"""

from __future__ import annotations

import re

import pytest

from qwthn.testing.runner import run_suite
from qwthn_cirq.options import qsim_available

CONFIGURATIONS = {
    "statevector-complex128": {},
    "density_matrix-complex64-chunked": {"simulator": "density_matrix", "dtype": "complex64", "max_batch": 4},
    "qsim": {"simulator": "qsim"},
}
"""Each configuration costs a subprocess (~5 s alone); statevector in complex64 passed too when run by hand."""


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.mark.parametrize("options", list(CONFIGURATIONS.values()), ids=list(CONFIGURATIONS))
def test_cirq_passes_the_conformance_suite(options, tmp_path):
    if options.get("simulator") == "qsim" and not qsim_available():
        pytest.skip("qsimcirq is not installed (extra qwthn-cirq[qsim])")
    result = run_suite("cirq", options, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.report
    reasons = result.skip_reasons
    # skips only for what the backend declares: every gate, CPU only, no coupling map (and no max_batch unless set)
    assert reasons and all("declares" in reason for reason in reasons), result.stdout
    expected = ["every gate of the gate table", "core rewrites none", "only devices", "no coupling map"]
    if "max_batch" not in options:
        expected.append("no max_batch")
    else:
        assert re.search(r"test_batch_sizes\[2\*max_batch\+1\] PASSED", result.stdout), result.stdout
    for reason in expected:
        assert any(reason in skipped for skipped in reasons), (reason, reasons)
    assert len(reasons) == len(expected), reasons
    for test in (
        "test_random_circuits_match_reference[probs]",
        "test_gate_matches_reference[CRZ]",
        "test_shots_are_reproducible_with_a_seed",
        "test_gradients_match_finite_differences[expval_z]",
    ):
        assert re.search(re.escape(test) + r" PASSED", result.stdout), (test, result.stdout[-3000:])
