"""pytest plugin (entry point `pytest11`): `--qwthn-backend NAME`, `--qwthn-backend-options JSON`, `qwthn_backend`.

Inert unless `--qwthn-backend` is given: it only adds two options and a fixture,
and imports nothing heavier than pytest until a test asks for the fixture. Run
the conformance suite with

    pytest --pyargs qwthn.testing.conformance --qwthn-backend NAME [--qwthn-backend-options JSON]

or `qwthn-backend-test NAME [--options JSON]`.
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
        f"{'all-to-all' if caps.coupling_map is None else sorted(caps.coupling_map)}, routes {caps.routes}"
    )


@pytest.fixture(scope="session")
def qwthn_backend(request: pytest.FixtureRequest) -> BackendUnderTest:
    """The backend chosen by --qwthn-backend (the conformance tests skip when none is given)."""
    name = request.config.getoption("qwthn_backend", default=None)
    if not name:
        pytest.skip(NO_BACKEND)
    from qwthn.testing.harness import BackendUnderTest

    return BackendUnderTest(name, parse_options(request.config.getoption("qwthn_backend_options", default=None)))
