"""Running the conformance suite from a plugin's own tests: one subprocess, its outcome as data.

A plugin's conformance test is then a few lines:

    run = run_suite("my-device", {"precision": "double"}, cwd=tmp_path)
    assert run.returncode == 0, run.report          # 6: passed, but something NOT CERTIFIED
    assert all("declares" in reason for reason in run.skip_reasons)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SKIP_LINE = re.compile(r"^SKIPPED \[\d+\] \S+: (.*)$", flags=re.MULTILINE)
"""One `-rs` summary line of pytest: the reason a check was skipped."""
VERDICT_LINE = re.compile(r"^  (\S[^:]*): (.*)$", flags=re.MULTILINE)
"""One aspect of the `qwthn conformance verdict` section: `  exact semantics: CERTIFIED ...`."""


@dataclass(frozen=True)
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def skip_reasons(self) -> list[str]:
        return SKIP_LINE.findall(self.stdout)

    @property
    def verdict(self) -> dict[str, str]:
        """{aspect: what was certified} from the run's `qwthn conformance verdict` section."""
        _, marker, section = self.stdout.partition("qwthn conformance verdict for ")
        if not marker:
            return {}
        return dict(VERDICT_LINE.findall(section.split("\n=", 1)[0]))

    @property
    def not_certified(self) -> list[str]:
        """The aspects the run could not certify (NOT CERTIFIED), e.g. exact semantics of a noisy-only backend."""
        return [aspect for aspect, state in self.verdict.items() if state.startswith("NOT CERTIFIED")]

    @property
    def report(self) -> str:
        """The end of both streams, for an assertion message."""
        return f"{self.stdout[-6000:]}\n{self.stderr[-3000:]}"

    def passed(self, test_id: str) -> bool:
        """Whether `test_id` (e.g. "test_batch_sizes[7]") is reported PASSED in the verbose output."""
        return f"{test_id} PASSED" in self.stdout


def run_suite(
    backend: str,
    options: dict[str, Any] | None = None,
    *pytest_args: str,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> SuiteRun:
    """`qwthn-backend-test backend --options JSON -v -rfEs` in a subprocess of this interpreter."""
    script = Path(sys.executable).with_name("qwthn-backend-test")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "qwthn.testing.cli"]
    command += [backend, "--options", json.dumps(options or {}), "-v", "-rfEs", "-p", "no:cacheprovider", *pytest_args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return SuiteRun(result.returncode, result.stdout, result.stderr)
