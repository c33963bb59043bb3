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
from qwthn.testing.runner import SuiteRun

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins"
TEST_BACKENDS = [
    ("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend"),
    ("qwthn-broken-test", "0.1", "broken-test", "broken_backend"),
]


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


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
    found = re.findall(r"::(test_\S+) (PASSED|FAILED|SKIPPED|ERROR|NOT CERTIFIED)", result.stdout)
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


CATCHES = {
    # fault: (-k selection, the check that must fail, a check that must still pass)
    "endianness": ("qubit_ordering", "test_qubit_ordering", None),
    "rx-sign": ("gate_matches", "test_gate_matches_reference[RX]", "test_gate_matches_reference[RY]"),
    "per-row-weights": ("per_row_weights", "test_shared_and_per_row_weights[probs]", None),
    "unseeded": ("reproducible", "test_shots_are_reproducible_with_a_seed", None),
    "vjp-sign": ("gradients_match_finite", "test_gradients_match_finite_differences[probs]", None),
    "chunk-order": ("batch_sizes", "test_batch_sizes[7]", "test_batch_sizes[1]"),
}
NOISY_CATCHES = {
    # with noise declared, the exact check runs on the noise-off configuration, and this one on the noisy one
    "endianness": "test_noisy_random_circuits_within_declared_bound[probs]",
    "rx-sign": "test_noisy_gate_within_declared_bound[RX]",
    "per-row-weights": "test_noisy_shared_and_per_row_weights[probs]",
    "unseeded": None,  # seeds are checked once, on the declared configuration
    "vjp-sign": "test_noisy_gradients_match_own_finite_differences[probs]",
    "chunk-order": "test_noisy_batch_sizes[7]",
}
NOISE = {"declare_noise": True, "noise": 0.002}
"""A backend that declares noise and applies some: depolarising 0.002 after every gate."""


def test_every_fault_of_the_broken_backend_is_covered():
    """A fault added to broken_backend.py without a case here would go unproven."""
    source = (PLUGIN_DIR / "broken_backend.py").read_text()
    declared = re.search(r"^Fault = Literal\[(.*?)\]", source, flags=re.MULTILINE | re.DOTALL).group(1)
    faults = set(re.findall(r'"([^"]+)"', declared))
    assert faults == {"none", "noisy-rx-sign", "understated-noise", *CATCHES}


@pytest.mark.parametrize("declare_noise", [False, True], ids=["noiseless", "declares-noise"])
@pytest.mark.parametrize("fault", list(CATCHES))
def test_each_fault_is_caught_by_its_check(site, fault, declare_noise):
    """Each fault fails its own check whether or not the backend declares noise: declaring noise hides nothing."""
    selection, failing, passing = CATCHES[fault]
    noisy_failing = NOISY_CATCHES[fault] if declare_noise else None
    if noisy_failing is not None:
        selection = f"{selection} or {noisy_failing.split('[')[0].removeprefix('test_')}"
    options = {"fault": fault, **(NOISE if declare_noise else {})}
    result = suite(site, "broken-test", options, "-k", selection)
    assert result.returncode == 1, report(result)
    seen = outcomes(result)
    assert seen[failing] == "FAILED", report(result)
    assert f"{failing} - AssertionError" in result.stdout
    if declare_noise and fault != "unseeded":  # the exact check ran on the noise-off configuration, and says so
        assert "(its declared noise-off configuration)" in result.stdout, report(result)
    if noisy_failing is not None:
        assert seen[noisy_failing] == "FAILED", report(result)
    if passing is not None:
        assert seen[passing] == "PASSED", report(result)


@pytest.mark.parametrize("fault", ["rx-sign", "endianness"])
def test_the_whole_suite_fails_a_wrong_backend_that_declares_noise(site, fault):
    """The cases issue 14 found certified (17 passed, 15 skipped, exit 0) fail, and the verdict says where."""
    result = suite(site, "broken-test", {"fault": fault, "declare_noise": True})
    assert result.returncode == 1, report(result)
    assert "exact semantics: FAILED" in result.stdout, report(result)
    assert "noisy configuration: FAILED" in result.stdout, report(result)
    assert not any("noise" in reason for reason in skip_reasons(result)), skip_reasons(result)


def test_a_backend_declaring_noise_is_certified_on_its_noise_off_configuration_and_within_its_bound(site):
    """Exact checks on the noise-off configuration, noisy values within the declared bound, plumbing against itself."""
    passing = suite(site, "broken-test", {"fault": "none", **NOISE})
    assert passing.returncode == 0, report(passing)
    seen = outcomes(passing)
    for check in (
        "test_random_circuits_match_reference[probs]", "test_gate_matches_reference[CRX]", "test_qubit_ordering",
        "test_noisy_random_circuits_within_declared_bound[expval_z]", "test_noisy_gate_within_declared_bound[RX]",
        "test_noisy_shared_and_per_row_weights[probs]", "test_noisy_gradients_match_own_finite_differences[probs]",
        "test_noisy_shot_estimates_within_statistical_bound[probs]", "test_noisy_batch_sizes[2*max_batch+1]",
    ):  # fmt: skip
        assert seen[check] == "PASSED", (check, report(passing))
    assert all("declares" in reason for reason in skip_reasons(passing)), report(passing)
    assert "exact semantics: CERTIFIED on its noise-off configuration" in passing.stdout
    assert "noisy configuration: CERTIFIED within its declared noise bound" in passing.stdout


@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        ("noisy-rx-sign", "test_noisy_gate_within_declared_bound[RX]"),  # right with noise off, wrong with it on
        ("understated-noise", "test_noisy_random_circuits_within_declared_bound[probs]"),
    ],
)
def test_the_noise_bound_check_fails_what_the_noise_off_checks_cannot_see(site, fault, failing):
    options = {"fault": fault, "declare_noise": True, "noise": 0.05}
    result = suite(site, "broken-test", options, "-k", "noisy_random or gate")
    assert result.returncode == 1, report(result)
    seen = outcomes(result)
    assert seen[failing] == "FAILED", report(result)
    assert seen["test_gate_matches_reference[RX]"] == "PASSED"  # the noise-off configuration is right
    assert "(noisy vs ideal reference)" in result.stdout and "declared noise bound" in result.stdout


def test_a_noise_off_switch_that_leaves_noise_on_fails(site):
    options = {"fault": "none", **NOISE, "noise_off": "still-noisy"}
    result = suite(site, "broken-test", options, "-k", "well_formed or RX")
    assert result.returncode == 1, report(result)
    seen = outcomes(result)
    assert seen["test_capabilities_are_well_formed"] == "FAILED", report(result)
    assert seen["test_gate_matches_reference[RX]"] == "FAILED", report(result)
    assert "still declares supports_noise=True" in result.stdout, report(result)


def test_a_noisy_only_backend_is_reported_not_certified_never_passed(site):
    """No noise-off configuration (hardware): exact checks are NOT CERTIFIED, the run exits 6, the verdict says so."""
    result = suite(site, "broken-test", {"fault": "none", **NOISE, "noise_off": "none"})
    assert result.returncode == 6, report(result)
    seen = outcomes(result)
    assert seen["test_random_circuits_match_reference[probs]"] == "NOT CERTIFIED", report(result)
    assert seen["test_noisy_gate_within_declared_bound[RX]"] == "PASSED"
    summary = result.stdout.strip().splitlines()[-1]
    assert "not certified" in summary and "failed" not in summary, summary
    assert "exact semantics: NOT CERTIFIED: exact semantics:" in result.stdout
    run = SuiteRun(result.returncode, result.stdout, result.stderr)
    assert run.not_certified == ["exact semantics"], run.verdict
    assert not any("NOT CERTIFIED" in reason for reason in skip_reasons(result))  # never listed as a skip
    # a failure still wins over "not certified"
    options = {"fault": "unseeded", **NOISE, "noise_off": "none"}
    wrong = suite(site, "broken-test", options, "-k", "reproducible or random")
    assert wrong.returncode == 1, report(wrong)


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


def test_the_shipped_emulator_passes_from_the_repository_root():
    """Run where a contributor runs it: the project's own conftest.py is in scope there and once collided with the
    shipped pytest plugin ('option names already added')."""
    root = Path(__file__).resolve().parents[2]
    env = {key: value for key, value in os.environ.items() if key not in ("QWTHN_PLUGINS", "PYTEST_ADDOPTS")}
    done = subprocess.run([*command(), "emulator", "-q", "-p", "no:cacheprovider"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_unknown_backend_is_a_usage_error(site):
    result = suite(site, "no-such-backend")
    assert result.returncode == 2, report(result)  # as every qwthn command answers bad input (pytest's is 4)
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
