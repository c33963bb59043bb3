"""The repository's own test setup: the fake plugins' folder and docs/reliability.md's catalogue (reliability rows)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

FAKE_PLUGIN_DIR = Path(__file__).parent / "tests" / "plugins"


# `fresh_registry` and `install_plugin` come from qwthn's pytest plugin (qwthn.testing.pytest_plugin), so a
# package's tests find them wherever it is installed; the fake plugins they install live in tests/plugins
# (on pytest's pythonpath, pyproject.toml).


# --- methods: one save/reload check for every adapter method's tests ---


def _tiny_causal_lm():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(1)
    return Qwen2ForCausalLM(Qwen2Config(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=1))  # fmt: skip


@pytest.fixture
def reloads_identically(tmp_path) -> Callable[[object], None]:
    """Inject a method's adapter into a tiny model, move its weights off their start, save, load onto a fresh
    model: the reloaded outputs must equal the trained ones bit for bit, and differ from the base model's
    (so a save that dropped the weights, or an adapter that does nothing, cannot pass)."""

    def check(config: object) -> None:
        from qwthn.model import inject_adapter, load_adapter, save_adapter

        trained = _tiny_causal_lm()
        inject_adapter(trained, config)
        generator = torch.Generator().manual_seed(2)
        with torch.no_grad():
            for param in trained.parameters():
                if param.requires_grad:
                    param.add_(torch.randn(param.shape, generator=generator) * 0.1)
        save_adapter(trained, tmp_path / "adapter")
        fresh = _tiny_causal_lm()
        load_adapter(fresh, tmp_path / "adapter")
        tokens = torch.tensor([[1, 5, 9, 2]])
        expected = trained.eval()(tokens).logits
        assert not torch.allclose(expected, _tiny_causal_lm().eval()(tokens).logits)  # the adapter acts
        torch.testing.assert_close(fresh.eval()(tokens).logits, expected, atol=0, rtol=0)

    return check


# --- docs/reliability.md: the catalogue of what was tried, generated from tests marked `reliability` ---

RELIABILITY_KINDS = ("bad input", "fault", "kill", "divergence", "security")
"""Sections of docs/reliability.md, in order; a marker with another kind is a mistake."""


class ReliabilityRow:
    """What a `reliability` test saw and asserted, for its row of docs/reliability.md.

    The page's answer column is what `answer` was given (the real output, never a description), and its
    checked column lists the claims `check` asserted, so the page cannot claim more than the test checks.
    """

    def __init__(self, record_property: Callable[[str, object], None]) -> None:
        self._record = record_property
        self.claims: list[str] = []
        self._recorded_claims = False

    def answer(self, text: str, *paths: Path | str) -> str:
        """Record `text` (what qwthn printed or raised) as the row's answer, with each of `paths` shown as DIR."""
        for path in sorted((str(p) for p in paths), key=len, reverse=True):
            text = text.replace(path, "DIR")
        text = " ".join(text.split())
        self._record("answer", text)
        return text

    def check(self, claim: str, ok: object, detail: object = "") -> None:
        """Assert `ok`, and list `claim` in the row's checked column (only claims really asserted appear there)."""
        if not self._recorded_claims:
            self._record("checked", self.claims)  # the same list, filled as the test goes
            self._recorded_claims = True
        self.claims.append(claim)
        assert ok, f"{claim}: {detail}" if detail != "" else claim


@pytest.fixture
def reliability(record_property) -> ReliabilityRow:
    """The row of docs/reliability.md that this test fills: its answer and the claims it checked."""
    return ReliabilityRow(record_property)


def pytest_addoption(parser):
    parser.addoption("--reliability-report", metavar="PATH", default=None,
                     help="write the catalogue of `reliability` tests and their outcomes as Markdown to PATH")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("reliability")
    if marker is None or not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    if marker.kwargs.get("kind") not in RELIABILITY_KINDS:
        raise pytest.UsageError(f"{item.nodeid}: reliability(kind=...) must be one of {RELIABILITY_KINDS}")
    properties = dict(report.user_properties)
    answer = properties.get("answer")
    if report.passed and not answer:  # the page shows what qwthn answered, so a row without one cannot hold
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} is marked `reliability` but recorded no answer: capture what qwthn "
                           "printed or raised and pass it to the `reliability` fixture's answer()")  # fmt: skip
    checked = properties.get("checked") or [marker.kwargs.get("held", "")]
    item.config.stash.setdefault(_RELIABILITY, []).append({
        "id": item.nodeid, "kind": marker.kwargs["kind"], "surface": marker.kwargs.get("surface", ""),
        "tried": marker.kwargs.get("tried", ""), "answer": answer or "(nothing captured)",
        "checked": "; ".join(checked), "held": report.passed,
    })


_RELIABILITY = pytest.StashKey[list]()


def pytest_sessionfinish(session):
    path = session.config.getoption("--reliability-report")
    rows = session.config.stash.get(_RELIABILITY, [])
    if path and rows:
        Path(path).write_text(reliability_markdown(rows), encoding="utf-8")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def reliability_markdown(rows: list[dict]) -> str:
    """The page: counts per kind and surface, then one table per kind, every row naming its test."""
    rows = sorted(rows, key=lambda row: (RELIABILITY_KINDS.index(row["kind"]), row["surface"], row["id"]))
    lines = [
        "# Reliability: what was tried, and what held",
        "",
        "Generated from the test suite, never edited by hand: every row is one test marked `reliability`,",
        "run by",
        "",
        "    .venv/bin/python -m pytest -m reliability --reliability-report docs/reliability.md",
        "",
        "A row holds when its test passed; a failed or skipped test is listed as not held. The answer is what",
        "the test captured while it ran: for bad inputs the line the `qwthn` command printed on stderr (CLI, run",
        "as a subprocess) or the error raised (Python API), with temporary paths shown as DIR. The checked",
        "column is what that test asserted: for the bad-input catalogue",
        "(`adapters/transformers/tests/test_catalogue.py`) it is written by the assertions themselves as they",
        "pass, case by case; for the other tests it is the claim in their marker. A test that records no answer",
        "fails. `tests/integration/test_reliability_doc.py` fails when this page and the marked tests disagree.",
        "",
        "## Counts",
        "",
        "| kind | surface | tried | held |",
        "|---|---|---:|---:|",
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["kind"], row["surface"]), []).append(row)
    for (kind, surface), group in groups.items():
        lines.append(f"| {kind} | {surface} | {len(group)} | {sum(row['held'] for row in group)} |")
    lines.append(f"| **all** | | **{len(rows)}** | **{sum(row['held'] for row in rows)}** |")
    titles = {"bad input": "Bad inputs", "fault": "Faults injected", "kill": "Kills and interrupts",
              "divergence": "NaN and Inf", "security": "Security"}  # fmt: skip
    for kind in RELIABILITY_KINDS:
        chosen = [row for row in rows if row["kind"] == kind]
        if not chosen:
            continue
        lines += ["", f"## {titles[kind]} ({len(chosen)})", "", "| surface | tried | answer | checked | held | test |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for row in chosen:
            held = "yes" if row["held"] else "**no**"
            lines.append(f"| {row['surface']} | {_cell(row['tried'])} | {_cell(row['answer'])} | "
                         f"{_cell(row['checked'])} | {held} | `{row['id']}` |")  # fmt: skip
    return "\n".join(lines) + "\n"
