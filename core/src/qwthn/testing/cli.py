"""`qwthn-backend-test NAME [--options JSON] [pytest args...]`: run the conformance suite against a backend.

Equivalent to `pytest --pyargs qwthn.testing.conformance --qwthn-backend NAME
[--qwthn-backend-options JSON] [pytest args...]`; exits with pytest's code
(0 passed, 1 some check failed), 2 on a usage error such as an unknown backend or bad options
JSON (pytest's own code for those is 4; 2 is what every qwthn command uses), or 6 when every
check that ran passed but something was NOT CERTIFIED: a backend that declares noise and no
noise-off configuration (its exact semantics), or no noise bound (its noisy values). The run's
`qwthn conformance verdict` section says what was certified.
"""

from __future__ import annotations

import os
import sys

USAGE = """usage: qwthn-backend-test NAME [--options JSON] [pytest args...]

Run the qwthn backend conformance suite (qwthn.testing.conformance) against the
installed backend NAME, built with the options JSON object (e.g. '{"dtype": "complex128"}').
Further arguments go to pytest, e.g. -x, -v, -k gradients.

Exit codes: 0 certified; 1 a check failed; 2 usage error; 6 no check failed but something was
NOT CERTIFIED (a noisy backend without a noise-off configuration or noise bound): see the
"qwthn conformance verdict" section at the end of the output.
"""

SUITE = "qwthn.testing.conformance"
PLUGIN = "qwthn.testing.pytest_plugin"
REWRITE_WARNING = "Module already imported so cannot be rewritten; qwthn"


def pytest_arguments(argv: list[str]) -> list[str]:
    """The pytest command line for `qwthn-backend-test` arguments (NAME first); ValueError on a bad one."""
    if not argv or argv[0].startswith("-"):
        raise ValueError("the backend NAME comes first")
    name, rest = argv[0], argv[1:]
    options, passthrough = None, []
    index = 0
    while index < len(rest):
        argument = rest[index]
        if argument == "--options":
            if index + 1 >= len(rest):
                raise ValueError("--options needs a JSON object")
            options, index = rest[index + 1], index + 2
            continue
        if argument.startswith("--options="):
            options = argument.split("=", 1)[1]
        else:
            passthrough.append(argument)
        index += 1
    # this command imported qwthn before pytest could mark it for assertion rewriting; the suite needs none
    arguments = ["-W", f"ignore:{REWRITE_WARNING}:pytest.PytestAssertRewriteWarning"]
    arguments += ["--pyargs", SUITE, "--qwthn-backend", name]
    if options is not None:
        arguments += ["--qwthn-backend-options", options]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        arguments = ["-p", PLUGIN, *arguments]  # entry-point plugins are off: load ours by name
    return arguments + passthrough


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    try:
        arguments = pytest_arguments(argv)
    except ValueError as error:
        print(f"qwthn-backend-test: {error}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        import pytest
    except ImportError:
        print("qwthn-backend-test: the suite runs on pytest, which is not installed; pip install 'qwthn[test]'",
              file=sys.stderr)  # fmt: skip
        return 2
    code = int(pytest.main(arguments))
    return 2 if code == pytest.ExitCode.USAGE_ERROR else code  # one usage-error status across qwthn's commands


if __name__ == "__main__":
    sys.exit(main())
