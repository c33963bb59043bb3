"""Output meant for logs: tables are not wrapped at 80 columns when stdout is not a terminal."""

from __future__ import annotations

import io

from rich.table import Table

from qwthn.console import LOG_WIDTH, make_console


def test_a_console_writing_to_a_file_is_wide(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    console = make_console(file=io.StringIO())
    assert not console.is_terminal and console.width == LOG_WIDTH
    table = Table()
    for column in ("a long column header", "another long column header", "a third long column header", "fourth one"):
        table.add_column(column)
    table.add_row("a value that would wrap at eighty columns", "x" * 30, "y" * 30, "z")
    console.print(table)
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 5 and max(len(line) for line in lines) > 80  # one row, one line each: nothing wrapped


def test_columns_or_an_explicit_width_still_win(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console(file=io.StringIO()).width == 100
    monkeypatch.delenv("COLUMNS")
    assert make_console(file=io.StringIO(), width=60).width == 60
