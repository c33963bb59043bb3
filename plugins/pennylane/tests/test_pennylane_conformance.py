"""The `pennylane` backend passes the core's conformance suite (`qwthn-backend-test pennylane`) per configuration.

One subprocess runs the suite once per configuration (the suite's own command-line entry,
`qwthn.testing.cli.main`, called in a loop) so PennyLane is imported once, not five times.
Each configuration exercises a different path: default.qubit with torch backprop, lightning's
adjoint vjp, default.qubit's adjoint vjp, the core's parameter-shift with chunking to max_batch,
and a mixed-state device (density-matrix read-out under backprop).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from qwthn.testing.runner import SKIP_LINE

CONFIGURATIONS = {
    "default.qubit-backprop": ({}, "autograd"),
    "lightning.qubit-adjoint": ({"device": "lightning.qubit"}, "vjp"),
    "default.qubit-adjoint": ({"diff_method": "adjoint", "max_qubits": 6}, "vjp"),
    "lightning.qubit-parameter-shift-chunked": (
        {"device": "lightning.qubit", "diff_method": "parameter-shift", "max_batch": 5, "max_qubits": 6},
        "parameter-shift",
    ),
    "default.mixed-backprop": ({"device": "default.mixed", "max_qubits": 5}, "autograd"),
}

DRIVER = """
import json, sys
from qwthn.testing.cli import main
for options in json.loads(sys.argv[1]):
    print("=== qwthn-config " + json.dumps(options, sort_keys=True), flush=True)
    code = main(["pennylane", "--options", json.dumps(options), "-v", "-rfEs", "-p", "no:cacheprovider"])
    print("=== qwthn-exit " + str(int(code)), flush=True)
"""


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.fixture(scope="module")
def suite_runs(tmp_path_factory) -> dict[str, tuple[int, str]]:
    """{configuration key: (pytest exit code, its output)} from one subprocess."""
    configs = [options for options, _ in CONFIGURATIONS.values()]
    env = {**os.environ, "QWTHN_PLUGINS": "pennylane", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(configs)], cwd=tmp_path_factory.mktemp("conformance"),
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    sections = re.split(r"^=== qwthn-config (.*)$", result.stdout, flags=re.MULTILINE)
    runs = {}
    for config_json, body in zip(sections[1::2], sections[2::2], strict=True):
        code = re.search(r"^=== qwthn-exit (\d+)$", body, flags=re.MULTILINE)
        runs[config_json] = (int(code.group(1)) if code else -1, body)
    assert len(runs) == len(configs), f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return runs


@pytest.mark.parametrize("key", list(CONFIGURATIONS))
def test_pennylane_passes_the_conformance_suite(suite_runs, key):
    options, gradient = CONFIGURATIONS[key]
    code, output = suite_runs[json.dumps(options, sort_keys=True)]
    assert code == 0, output[-6000:]
    assert f"gradient {gradient}," in output, output[:2000]  # the path this configuration is meant to exercise
    reasons = SKIP_LINE.findall(output)
    assert reasons and all("declares" in reason for reason in reasons), reasons
    # every gate of the table is declared, and shots are offered: those checks must have run
    for outcome in ("test_undeclared_gate_is_refused SKIPPED", "test_shots_are_reproducible_with_a_seed PASSED"):
        assert outcome in output, (outcome, output[-3000:])
    for gate in ("CRZ", "CRX", "CNOT"):
        assert re.search(rf"test_gate_matches_reference\[{gate}\] PASSED", output), output[-3000:]
    assert re.search(r"test_gradients_match_finite_differences\[probs\] PASSED", output), output[-3000:]
    if options.get("max_batch"):
        assert re.search(r"test_batch_sizes\[2\*max_batch\+1\] PASSED", output), output[-3000:]
