"""The `qiskit` backend passes the core's conformance suite (`qwthn-backend-test qiskit`) in each configuration.

- statevector (default options): the built-in exact Aer state vector (EstimatorV2 PUB / save_probabilities);
- density_matrix, max_batch 16, max_qubits 8: the density-matrix method (8 qubits keep it quick) and chunking;
- aer-line-device (`aer:generic:5`): an AerSimulator with a 5-qubit line target: transpiled, routed, exact;
- sampling-device (`generic:5`): a noiseless GenericBackendV2 line device: sampling only, via job handles.

All four run in ONE subprocess (`qwthn.testing.cli.main` once per configuration, as
`qwthn-backend-test` does), each writing a JUnit report, to pay the interpreter start-up once.
`QWTHN_PLUGINS=qiskit` loads only this plugin's entry point there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

CONFIGURATIONS = {
    "statevector": ({}, ["no max_batch", "no coupling map"]),
    "density_matrix": ({"method": "density_matrix", "max_batch": 16, "max_qubits": 8}, ["no coupling map"]),
    "aer-line-device": ({"backend": "aer:generic:5"}, ["no max_batch"]),
    "sampling-device": ({"backend": "generic:5"}, ["no max_batch", "exact=False"]),
}

DRIVER = """
import json, sys
from qwthn.testing.cli import main
codes = []
for name, options in json.loads(sys.argv[1]).items():
    codes.append(main(["qiskit", "--options", json.dumps(options), "-q", "-p", "no:cacheprovider",
                       "-W", "ignore::UserWarning", "--junitxml=" + sys.argv[2] + "/" + name + ".xml"]))
sys.exit(max(codes))
"""


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conformance")
    options = {name: options for name, (options, _) in CONFIGURATIONS.items()}
    environment = {**os.environ, "QWTHN_PLUGINS": "qiskit"}
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(options), str(folder)],
        cwd=folder, capture_output=True, text=True, timeout=300, env=environment,
    )  # fmt: skip
    return folder, result


def _cases(path):
    """{test name: (outcome, message)} from a JUnit report."""
    cases = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("skipped", "failure", "error"):
                outcome, message = child.tag, child.get("message", "")
        cases[case.get("name")] = (outcome, message)
    return cases


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_qiskit_passes_the_conformance_suite(name, reports):
    folder, result = reports
    report = folder / f"{name}.xml"
    assert report.exists(), f"{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
    cases = _cases(report)
    failed = {test: message for test, (outcome, message) in cases.items() if outcome in ("failure", "error")}
    assert not failed, f"{name}: {failed}\n{result.stdout[-4000:]}"
    skips = [message for outcome, message in cases.values() if outcome == "skipped"]
    assert skips and all("declares" in message for message in skips), skips
    _, expected_skips = CONFIGURATIONS[name]
    for expected in expected_skips:
        assert any(expected in message for message in skips), (expected, skips)
    for test in ("test_random_circuits_match_reference[probs]", "test_gate_matches_reference[CRX]",
                 "test_shots_are_reproducible_with_a_seed", "test_qubit_ordering"):  # fmt: skip
        assert cases.get(test, ("missing",))[0] == "passed", (test, cases.get(test))
    if not any("coupling map" in expected for expected in expected_skips):
        assert cases["test_coupling_map"][0] == "passed"
    if "max_batch" in CONFIGURATIONS[name][0]:
        assert cases["test_batch_sizes[2*max_batch+1]"][0] == "passed"
    if "exact=False" not in expected_skips:
        assert cases["test_gradients_match_finite_differences[probs]"][0] == "passed"
