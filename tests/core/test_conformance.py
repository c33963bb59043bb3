"""The backend conformance suite, run as a plugin author runs it: `qwthn-backend-test NAME` in a subprocess.

The backends come through real entry points (a *.dist-info on PYTHONPATH, as
conftest's `install_plugin` writes): `numpy-test` must pass; `broken-test`
must fail, and say which check failed and by how much.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.contract.gates import GATES
from qwthn.testing import reference
from qwthn.testing.cli import pytest_arguments

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins"
TEST_BACKENDS = [
    ("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend"),
    ("qwthn-broken-test", "0.1", "broken-test", "broken_backend"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A folder with the test backends' dist-infos, and an environment that puts it (and their modules) on the path."""
    root = tmp_path_factory.mktemp("site")
    for distribution, version, entry_point, module in TEST_BACKENDS:
        info = root / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[qwthn]\n{entry_point} = {module}\n")
    env = {key: value for key, value in os.environ.items() if key not in ("QWTHN_PLUGINS", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), str(PLUGIN_DIR), env.get("PYTHONPATH")]))
    return root, env


def command() -> list[str]:
    script = Path(sys.executable).with_name("qwthn-backend-test")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qwthn.testing.cli"]


def run(site: tuple[Path, dict[str, str]], arguments: list[str]) -> subprocess.CompletedProcess:
    root, env = site
    return subprocess.run(arguments, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def suite(site, name: str, options: dict | None = None, *pytest_args: str) -> subprocess.CompletedProcess:
    extra = ["--options", json.dumps(options)] if options is not None else []
    return run(site, [*command(), name, *extra, "-v", "-rfEs", "-p", "no:cacheprovider", *pytest_args])


def outcomes(result: subprocess.CompletedProcess) -> dict[str, str]:
    """test id -> PASSED/FAILED/SKIPPED from `-v` output."""
    found = re.findall(r"::(test_\S+) (PASSED|FAILED|SKIPPED|ERROR)", result.stdout)
    return dict(found)


def skip_reasons(result: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"^SKIPPED \[\d+\] \S+: (.*)$", result.stdout, flags=re.MULTILINE)


def report(result: subprocess.CompletedProcess) -> str:
    return f"exit code {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def test_numpy_test_backend_passes_and_skips_only_for_declared_reasons(site):
    result = suite(site, "numpy-test", {"max_batch": 4})
    assert result.returncode == 0, report(result)
    seen = outcomes(result)
    assert seen["test_random_circuits_match_reference[probs]"] == "PASSED"
    assert seen["test_batch_sizes[2*max_batch+1]"] == "PASSED"  # max_batch declared: the runtime chunks
    assert seen["test_gradients_match_finite_differences[expval_z]"] == "PASSED"  # core parameter-shift
    assert seen["test_shots_are_reproducible_with_a_seed"] == "SKIPPED"
    reasons = skip_reasons(result)
    assert reasons and all("declares" in reason for reason in reasons), reasons
    assert "qwthn backend: numpy-test (qwthn-numpy-test 0.3)" in result.stdout  # the report header


def test_wrong_qubit_order_fails_and_says_so(site):
    result = suite(site, "broken-test")  # default fault: little-endian probs while declaring 'big'
    assert result.returncode == 1, report(result)
    seen = outcomes(result)
    assert seen["test_random_circuits_match_reference[probs]"] == "FAILED"
    assert seen["test_qubit_ordering"] == "FAILED"
    assert seen["test_random_circuits_match_reference[expval_z]"] == "PASSED"  # only the probability order is wrong
    assert (
        "FAILED" in result.stdout and "::test_random_circuits_match_reference[probs] - AssertionError" in result.stdout
    )
    message = next(line for line in result.stdout.splitlines() if line.startswith("E ") and "random circuit" in line)
    assert "max |backend - reference| = " in message and "qubit(s)" in message and "readout probs" in message
    assert "returns little-endian probabilities but declares qubit_ordering='big'" in message


@pytest.mark.parametrize(
    ("fault", "selection", "failing", "passing"),
    [
        ("rx-sign", "gate_matches", "test_gate_matches_reference[RX]", "test_gate_matches_reference[RY]"),
        ("per-row-weights", "per_row_weights", "test_shared_and_per_row_weights[probs]", None),
        ("unseeded", "reproducible", "test_shots_are_reproducible_with_a_seed", None),
    ],
)
def test_each_fault_is_caught_by_its_check(site, fault, selection, failing, passing):
    result = suite(site, "broken-test", {"fault": fault}, "-k", selection)
    assert result.returncode == 1, report(result)
    seen = outcomes(result)
    assert seen[failing] == "FAILED", report(result)
    if passing is not None:
        assert seen[passing] == "PASSED", report(result)
    assert f"{failing} - AssertionError" in result.stdout


def test_a_backend_declaring_noise_is_checked_against_its_own_exact_values(site):
    """Noisy values differ from the ideal reference; consistency, shots and gradients are still checked."""
    passing = suite(site, "broken-test", {"fault": "none", "declare_noise": True})
    assert passing.returncode == 0, report(passing)
    reasons = skip_reasons(passing)
    assert any("declares noise (supports_noise=True)" in reason for reason in reasons)
    seen = outcomes(passing)
    for check in ("test_shared_and_per_row_weights[probs]", "test_gradients_match_finite_differences[probs]",
                  "test_shot_estimates_within_statistical_bound[probs]", "test_batch_sizes[2*max_batch+1]"):
        assert seen[check] == "PASSED", (check, report(passing))
    # a fault that a noisy backend could have is still caught: per-row weights ignored
    failing = suite(site, "broken-test", {"fault": "per-row-weights", "declare_noise": True}, "-k", "per_row_weights")
    assert failing.returncode == 1 and outcomes(failing)["test_shared_and_per_row_weights[probs]"] == "FAILED"


def test_correct_backend_with_coupling_map_and_shots_passes(site):
    options = {"fault": "none", "coupling_map": [[0, 1], [1, 2], [2, 3]]}
    result = suite(site, "broken-test", options)
    assert result.returncode == 0, report(result)
    seen = outcomes(result)
    for check in ("test_coupling_map", "test_undeclared_gate_is_refused", "test_shots_are_reproducible_with_a_seed"):
        assert seen[check] == "PASSED", check
    assert seen["test_shot_estimates_within_statistical_bound[probs]"] == "PASSED"

    routed = suite(site, "broken-test", {**options, "routes": True}, "-k", "coupling or random")
    assert routed.returncode == 0, report(routed)
    assert outcomes(routed)["test_coupling_map"] == "PASSED"


def test_without_a_backend_the_suite_skips_with_a_message(site):
    result = run(
        site, [sys.executable, "-m", "pytest", "--pyargs", "qwthn.testing.conformance", "-rs", "-p", "no:cacheprovider"]
    )
    assert result.returncode == 0, report(result)
    assert " passed" not in result.stdout and " skipped" in result.stdout
    assert "no backend selected: run with --qwthn-backend NAME" in result.stdout


def test_unknown_backend_is_a_usage_error(site):
    result = suite(site, "no-such-backend")
    assert result.returncode == 4, report(result)
    assert "unknown backend 'no-such-backend'" in result.stderr and "numpy-test" in result.stderr


def test_command_line_becomes_pytest_arguments(monkeypatch):
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    arguments = pytest_arguments(["emulator", "-x", "--options", '{"dtype": "complex128"}', "-k", "gradients"])
    assert arguments[arguments.index("--pyargs") :] == [
        "--pyargs", "qwthn.testing.conformance", "--qwthn-backend", "emulator",
        "--qwthn-backend-options", '{"dtype": "complex128"}', "-x", "-k", "gradients",
    ]  # fmt: skip
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert pytest_arguments(["emulator"])[:2] == ["-p", "qwthn.testing.pytest_plugin"]
    with pytest.raises(ValueError, match="NAME comes first"):
        pytest_arguments(["--options", "{}"])


def test_reference_random_circuits_follow_the_coupling_map_and_cover_every_parameter():
    rng = np.random.default_rng(3)
    coupling = {(0, 1), (1, 2)}
    for _ in range(20):
        circuit = reference.random_circuit(rng, 3, GATES, coupling_map=coupling, n_gates=30, cover=True)
        assert all(pair in coupling or pair[::-1] in coupling for pair in circuit.two_qubit_pairs)
        assert reference.uses_all_parameters(circuit)
    only_rotations = reference.random_circuit(rng, 2, ["RX", "CNOT"], coupling_map=set(), readout="probs")
    assert only_rotations.gate_names == {"RX"} and only_rotations.n_outputs == 4


def test_reference_is_big_endian_and_takes_per_row_weights():
    flip = Circuit(2, (Gate("X", (0,)),), 0, 0, Readout("probs"))
    np.testing.assert_allclose(reference.evaluate(flip, np.zeros((1, 0)), np.zeros(0)), [[0, 0, 1, 0]])
    rotate = Circuit(1, (Gate("RX", (0,), Angle.weight(0)),), 0, 1)
    z = reference.evaluate(rotate, np.zeros((2, 0)), np.array([[0.0], [np.pi]]))
    np.testing.assert_allclose(z, [[1.0], [-1.0]], atol=1e-12)
