"""docs/reliability.md is generated from the tests marked `reliability`: it must list exactly those
tests, every one held with a captured answer, and at least 40 bad inputs, each catalogue case claiming what
its assertions checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"


def marked_tests() -> set[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "reliability", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr[-2000:]
    return {line for line in listed.stdout.splitlines() if "::" in line}


ROW = re.compile(r"^\| (?P<surface>[^|]*) \| (?P<tried>.*?) \| (?P<answer>.*?) \| (?P<checked>.*?) \| "
                 r"(?P<held>yes|\*\*no\*\*) \| `(?P<test>[^`]+)` \|$", flags=re.MULTILINE)  # fmt: skip


@pytest.mark.slow
def test_the_page_lists_exactly_the_marked_tests_and_all_held():
    text = DOC.read_text(encoding="utf-8")
    rows = [match.groupdict() for match in ROW.finditer(text)]
    assert rows, "no rows: regenerate with the command at the top of docs/reliability.md"
    assert {row["test"] for row in rows} == marked_tests(), "regenerate docs/reliability.md (command at its top)"
    assert all(row["held"] == "yes" for row in rows)
    assert all(row["answer"] and row["answer"] != "(nothing captured)" and row["checked"] for row in rows)
    catalogue = [row for row in rows if "test_catalogue.py::" in row["test"]]
    # each catalogue row's claims were written by the assertions of its case as they passed
    assert catalogue and all("names the problem (" in row["checked"] for row in catalogue)
    cli = [row for row in catalogue if row["surface"] == "CLI"]
    assert cli and all(row["answer"].startswith("error: ") and "exit status 2" in row["checked"] for row in cli)
    bad_inputs = re.search(r"^## Bad inputs \((\d+)\)$", text, flags=re.MULTILINE)
    assert bad_inputs is not None and int(bad_inputs.group(1)) >= 40
