"""The wukong backend passes the core's conformance suite (`qwthn-backend-test wukong`) with its default noise on.

Wukong declares noise (calibrated depolarising, T1/T2, read-out confusion) and a noise-off configuration
(`noise_scale` 0), so the suite certifies its exact semantics there, compares its noisy values with the
ideal reference within the bound it derives from its calibration (`qwthn_wukong.bound`), and checks the
noisy configuration's chunking, weights, dtypes, shots and gradients against its own exact values.
"""

from __future__ import annotations

import re

import pytest

from qwthn.testing.runner import run_suite


@pytest.mark.slow
def test_wukong_passes_the_conformance_suite_with_noise_on(tmp_path):
    result = run_suite("wukong", {}, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.report
    reasons = result.skip_reasons
    assert reasons and all("declares" in reason for reason in reasons), reasons
    for test in (
        r"test_random_circuits_match_reference\[probs\]",  # exact, on the noise-off configuration
        r"test_gate_matches_reference\[CRX\]",
        r"test_qubit_ordering",
        r"test_noisy_random_circuits_within_declared_bound\[expval_z\]",  # noisy, within the declared bound
        r"test_noisy_gate_within_declared_bound\[CNOT\]",
        r"test_noisy_batch_sizes\[2\*max_batch\+1\]",  # noisy, against its own exact values
        r"test_noisy_gradients_match_own_finite_differences\[probs\]",
    ):
        assert re.search(test + " PASSED", result.stdout), (test, result.stdout[-3000:])
    assert 'exact semantics: CERTIFIED on its noise-off configuration (options + {"noise_scale": 0.0})' in result.stdout
    assert "noisy configuration: CERTIFIED within its declared noise bound" in result.stdout
