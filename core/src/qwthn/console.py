"""Consoles for people and for logs: on a terminal, rich's defaults; redirected to a file or a CI
log, a wide fixed width, so tables are not wrapped at 80 columns into unreadable fragments."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console

LOG_WIDTH = 200
"""Columns used when the output is not a terminal and COLUMNS is not set."""


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    console = Console(stderr=stderr, **options)
    if console.is_terminal or "COLUMNS" in os.environ or "width" in options:
        return console
    return Console(stderr=stderr, width=LOG_WIDTH, **options)


def warn(message: str) -> None:
    """One line on stderr, markup off: something the user would want to know, not a reason to stop."""
    make_console(stderr=True, highlight=False, soft_wrap=True).print(f"warning: {message}", markup=False)
