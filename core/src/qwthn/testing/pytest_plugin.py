"""pytest plugin (entry point `pytest11`): `--qwthn-backend NAME`, `--qwthn-backend-options JSON`, `qwthn_backend`,
and the fixtures a plugin's own tests use: `fresh_registry`, `install_plugin` (a plugin installed through real
entry points, so each package's tests run wherever the package goes).

Inert unless `--qwthn-backend` is given: it only adds two options and a fixture,
and imports nothing heavier than pytest until a test asks for the fixture. Run
the conformance suite with

    pytest --pyargs qwthn.testing.conformance --qwthn-backend NAME [--qwthn-backend-options JSON]

or `qwthn-backend-test NAME [--options JSON]`.

With a backend selected it also: collects the `qwthn_noisy` checks only when the backend declares
noise; reports a check skipped with a reason starting "NOT CERTIFIED" as "not certified" (its
own outcome in the summary line, never counted as a skip); prints a "qwthn conformance verdict"
section saying what was certified; and, when nothing failed but something was not certified,
ends the run with exit code `NOT_CERTIFIED_EXIT` (6) instead of 0.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from qwthn.testing.harness import BackendUnderTest

BACKEND_OPTION = "--qwthn-backend"
OPTIONS_OPTION = "--qwthn-backend-options"
NO_BACKEND = "no backend selected: run with --qwthn-backend NAME (or `qwthn-backend-test NAME`)"
NOT_CERTIFIED = "NOT CERTIFIED"
NOT_CERTIFIED_EXIT = 6
"""Exit code when every check that ran passed but some aspect could not be certified (pytest uses 0-5)."""
MARKERS = {
    "qwthn_exact": "conformance check of exact semantics against the ideal reference (noise-off configuration "
    "of a noisy backend)",
    "qwthn_noisy": "conformance check of a noisy configuration (collected only when the backend declares noise)",
}
ASPECTS = ("qwthn_exact", "qwthn_noisy", "contract")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qwthn", "qwthn backend conformance")
    group.addoption(
        BACKEND_OPTION,
        dest="qwthn_backend",
        metavar="NAME",
        default=None,
        help="registered qwthn backend the conformance suite (qwthn.testing.conformance) checks",
    )
    group.addoption(
        OPTIONS_OPTION,
        dest="qwthn_backend_options",
        metavar="JSON",
        default=None,
        help='that backend\'s options as a JSON object, e.g. \'{"dtype": "complex128"}\'',
    )


def parse_options(text: str | None) -> dict[str, Any]:
    """The JSON object of `--qwthn-backend-options`; anything else is a usage error."""
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as error:
        raise pytest.UsageError(f"{OPTIONS_OPTION}: not JSON ({error}): {text!r}") from None
    if not isinstance(options, dict):
        raise pytest.UsageError(f"{OPTIONS_OPTION}: expected a JSON object like '{{\"key\": 1}}', got {text!r}")
    return options


def pytest_configure(config: pytest.Config) -> None:
    for marker, text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {text}")
    name = config.getoption("qwthn_backend", default=None)
    if not name:
        return
    options = parse_options(config.getoption("qwthn_backend_options", default=None))
    from qwthn.errors import QwthnError
    from qwthn.plugins import host

    try:
        host.create_backend(name, options)  # unknown name or refused options: one line, before collecting
    except QwthnError as error:
        raise pytest.UsageError(f"{BACKEND_OPTION} {name}: {error}") from None
    config.pluginmanager.register(Verdict(config), "qwthn-conformance-verdict")


def pytest_report_header(config: pytest.Config) -> str | None:
    name = config.getoption("qwthn_backend", default=None)
    if not name:
        return None
    from qwthn.plugins import host

    entry = host.backend_entry(name)
    caps = host.create_backend(name, parse_options(config.getoption("qwthn_backend_options", default=None)))
    caps = caps.capabilities
    return (
        f"qwthn backend: {name} ({entry.distribution} {entry.version}); gates {sorted(caps.native_gates)}, "
        f"max_qubits {caps.max_qubits}, gradient {caps.gradient}, exact {caps.exact}, shots {caps.supports_shots}, "
        f"ordering {caps.qubit_ordering}, max_batch {caps.max_batch}, coupling_map "
        f"{'all-to-all' if caps.coupling_map is None else sorted(caps.coupling_map)}, routes {caps.routes}, "
        f"noise {caps.supports_noise}" + (f" (noise_off {json.dumps(caps.noise_off)})" if caps.supports_noise else "")
    )


def _declared(config: pytest.Config) -> tuple[str, dict[str, Any], Any]:
    """(name, options, capabilities) of the selected backend."""
    from qwthn.plugins import host

    name = config.getoption("qwthn_backend")
    options = parse_options(config.getoption("qwthn_backend_options", default=None))
    return name, options, host.create_backend(name, options).capabilities


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Checks of a noisy configuration do not apply to a backend that declares no noise: deselect, not skip."""
    if not config.getoption("qwthn_backend", default=None):
        return
    if _declared(config)[2].supports_noise:
        return
    deselected = [item for item in items if item.get_closest_marker("qwthn_noisy") is not None]
    if deselected:
        items[:] = [item for item in items if item.get_closest_marker("qwthn_noisy") is None]
        config.hook.pytest_deselected(items=deselected)


def _not_certified(report: pytest.TestReport) -> str | None:
    """The reason of a check that skipped with NOT CERTIFIED, else None."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    return reason if reason.startswith(NOT_CERTIFIED) else None


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """NOT CERTIFIED is its own outcome: in the summary line, in -v output, never among the skips."""
    if _not_certified(report) is not None:
        return "not certified", "N", NOT_CERTIFIED
    return None


class Verdict:
    """Outcomes per aspect (exact semantics, noisy configuration, contract) of one run against one backend."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[str, dict[str, list[str]]] = {aspect: {} for aspect in ASPECTS}
        self.allowances: list[float] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        aspect = next((name for name in ASPECTS[:2] if name in report.keywords), "contract")
        reason = _not_certified(report)
        if reason is not None:
            outcome = "not certified"
        elif report.failed:
            outcome = "failed"
        elif report.passed and report.when == "call":
            outcome = "passed"
            self.allowances += [float(v) for key, v in report.user_properties if key == "qwthn_noise_allowance"]
        else:
            return
        self.outcomes[aspect].setdefault(outcome, []).append(reason or report.nodeid.split("::")[-1])

    def _state(self, aspect: str, certified: str) -> str:
        seen = self.outcomes[aspect]
        if seen.get("failed"):
            return f"FAILED ({len(seen['failed'])} check(s): {', '.join(seen['failed'][:4])})"
        if seen.get("not certified"):
            return f"{seen['not certified'][0]} ({len(seen['not certified'])} check(s))"
        if seen.get("passed"):
            return f"CERTIFIED {certified} ({len(seen['passed'])} check(s) passed)"
        return "nothing checked (every check skipped for what the backend declares)"

    def lines(self) -> list[str]:
        """What this run certified, one line per aspect."""
        name, options, caps = _declared(self.config)
        label = f"backend '{name}'" + (f" with options {json.dumps(options, sort_keys=True)}" if options else "")
        lines = [f"qwthn conformance verdict for {label}:"]
        if not caps.supports_noise:
            lines.append("  exact semantics: " + self._state("qwthn_exact", "against the ideal reference"))
            lines.append("  noise: none declared (supports_noise=False)")
        else:
            off = json.dumps(caps.noise_off, sort_keys=True)
            where = f"on its noise-off configuration (options + {off}) against the ideal reference"
            lines.append("  exact semantics: " + self._state("qwthn_exact", where))
            largest = f"; largest allowed |noisy - ideal| {max(self.allowances):.3g}" if self.allowances else ""
            noisy = (
                "within its declared noise bound of the ideal reference, and consistent with its own exact values "
                f"(chunking, weights, dtypes, shots, gradients){largest}"
            )
            lines.append("  noisy configuration: " + self._state("qwthn_noisy", noisy))
        lines.append("  contract (capabilities, refusals, seeds): " + self._state("contract", "as declared"))
        return lines

    @property
    def uncertified(self) -> bool:
        return any(seen.get("not certified") for seen in self.outcomes.values())

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.section("qwthn conformance verdict")
        for line in self.lines():
            terminalreporter.write_line(line)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """A run whose checks passed but that left something NOT CERTIFIED does not exit 0."""
        if exitstatus == 0 and self.uncertified:
            session.exitstatus = NOT_CERTIFIED_EXIT


@pytest.fixture
def fresh_registry():
    """qwthn's plugin registry, rescanned before and after the test (plugins installed by it are forgotten)."""
    from qwthn.plugins import host

    host.reset()
    yield host
    host.reset()


@pytest.fixture
def install_plugin(tmp_path, monkeypatch, fresh_registry):
    """`install(distribution, version, entry_point, module)`: a *.dist-info with one `qwthn` entry point on a
    sys.path folder, as pip would leave it, then a rescan; `module` must be importable (on sys.path)."""
    from qwthn.testing.installing import write_dist_info

    def install(distribution: str, version: str, entry_point: str, module: str) -> None:
        write_dist_info(tmp_path, distribution, version, entry_point, module)
        monkeypatch.syspath_prepend(str(tmp_path))
        fresh_registry.reset()

    return install


@pytest.fixture(scope="session")
def qwthn_backend(request: pytest.FixtureRequest) -> BackendUnderTest:
    """The backend chosen by --qwthn-backend (the conformance tests skip when none is given)."""
    name = request.config.getoption("qwthn_backend", default=None)
    if not name:
        pytest.skip(NO_BACKEND)
    from qwthn.testing.harness import BackendUnderTest

    return BackendUnderTest(name, parse_options(request.config.getoption("qwthn_backend_options", default=None)))
