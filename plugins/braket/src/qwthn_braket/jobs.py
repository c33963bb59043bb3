"""A submitted chunk: its Braket tasks, polled until all complete, then decoded into one tensor.

The runtime submits every chunk of an execution before it collects any, so remote tasks
queue together. `result(timeout)` polls `task.state()`; a FAILED or CANCELLED task is a
`TransientBackendError` (the runtime resubmits the chunk), and a wait past `timeout`
cancels the chunk's unfinished tasks (so a resubmission does not pay twice) and raises
`BackendTimeoutError`. Local simulator tasks are complete when created.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from qwthn.errors import BackendTimeoutError, TransientBackendError

COMPLETED = "COMPLETED"
NO_RESULT = frozenset({"FAILED", "CANCELLED"})


def _reason(task: Any) -> str:
    try:
        reason = task.metadata(True).get("failureReason")
    except Exception:
        return ""
    return f": {reason}" if reason else ""


def cancel(tasks: Sequence[Any]) -> None:
    """Cancel what can still be cancelled (best effort: a finished task refuses)."""
    for task in tasks:
        try:
            task.cancel()
        except Exception:
            continue


class BraketJob:
    """Braket tasks of one chunk; `result` blocks until all are done and returns [rows, n_outputs]."""

    def __init__(
        self,
        tasks: Sequence[Any],
        decode: Callable[[list[Any]], np.ndarray],
        *,
        device: torch.device,
        poll_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tasks = list(tasks)
        self._decode, self._device = decode, device
        self._poll_interval, self._sleep, self._clock = poll_interval, sleep, clock
        self._value: torch.Tensor | None = None

    def _wait(self, timeout: float | None) -> None:
        deadline = None if timeout is None else self._clock() + timeout
        pending = list(self.tasks)
        while True:
            waiting = []
            for task in pending:
                state = task.state()
                if state in NO_RESULT:
                    cancel([other for other in pending if other is not task])
                    raise TransientBackendError(f"braket task {task.id} ended {state}{_reason(task)}")
                if state != COMPLETED:
                    waiting.append(task)
            pending = waiting
            if not pending:
                return
            if deadline is not None and self._clock() >= deadline:
                cancel(pending)
                raise BackendTimeoutError(
                    f"braket: {len(pending)} of {len(self.tasks)} task(s) unfinished after {timeout:g} s (cancelled)"
                )
            pause = self._poll_interval if deadline is None else min(self._poll_interval, deadline - self._clock())
            self._sleep(max(pause, 0.0))

    def result(self, timeout: float | None = None) -> torch.Tensor:
        if self._value is None:
            self._wait(timeout)
            results = [task.result() for task in self.tasks]
            missing = [task.id for task, result in zip(self.tasks, results, strict=True) if result is None]
            if missing:
                raise TransientBackendError(f"braket: no result for task(s) {missing}")
            self._value = torch.from_numpy(np.asarray(self._decode(results), dtype=np.float64)).to(self._device)
        return self._value
