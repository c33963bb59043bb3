"""Progress for long loops: a tqdm bar on a terminal, plain periodic lines in logs.

tqdm redraws with carriage returns, which a CI log or `> file` keeps as one endless line (or
thousands of lines); when stderr is not a terminal we print one line every tenth of the work
(and at least every `LOG_INTERVAL` seconds), then a final line.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType

from tqdm.auto import tqdm

LOG_INTERVAL = 30.0
"""Seconds between plain progress lines at most, however slow the loop."""


class LogLines:
    """The part of tqdm's interface our loops use, printed as occasional whole lines."""

    def __init__(self, total: int, description: str, unit: str) -> None:
        self.total, self.description, self.unit = total, description, unit
        self.count, self.postfix = 0, ""
        self.start = self.last_print = time.monotonic()
        self.every = max(1, total // 10)

    def update(self, count: int = 1) -> None:
        before, self.count = self.count, self.count + count
        crossed = before // self.every != self.count // self.every
        if crossed or time.monotonic() - self.last_print >= LOG_INTERVAL:
            self._line()

    def set_postfix(self, refresh: bool = False, **values: object) -> None:
        self.postfix = ", ".join(f"{key}={value}" for key, value in values.items())

    def _line(self) -> None:
        elapsed = time.monotonic() - self.start
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.description}: {self.count}/{self.total} {self.unit} ({elapsed:.0f} s{extra})",
              file=sys.stderr, flush=True)  # fmt: skip
        self.last_print = time.monotonic()

    def __enter__(self) -> LogLines:
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if kind is None and self.count % self.every:
            self._line()


class Silent(LogLines):
    """The same interface, printing nothing: processes other than rank 0 of a multi-process run."""

    def _line(self) -> None:
        pass


def progress(total: int, description: str, unit: str, silent: bool = False) -> tqdm | LogLines:
    if silent:
        return Silent(total, description, unit)
    if sys.stderr.isatty():
        return tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True)
    return LogLines(total, description, unit)
