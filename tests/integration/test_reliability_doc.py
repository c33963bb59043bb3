"""docs/reliability.md is generated from the tests marked `reliability`: it must list exactly those
tests, every one held, and at least 40 bad inputs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"


def marked_tests() -> set[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "reliability", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    return {line for line in listed.stdout.splitlines() if "::" in line}


def test_the_page_lists_exactly_the_marked_tests_and_all_held():
    text = DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\|.*\| (yes|\*\*no\*\*) \| `([^`]+)` \|$", text, flags=re.MULTILINE)
    assert rows, "no rows: regenerate with the command at the top of docs/reliability.md"
    assert {test for _, test in rows} == marked_tests(), "regenerate docs/reliability.md (command at its top)"
    assert all(held == "yes" for held, _ in rows)
    bad_inputs = re.search(r"^## Bad inputs \((\d+)\)$", text, flags=re.MULTILINE)
    assert bad_inputs is not None and int(bad_inputs.group(1)) >= 40
