"""A primitive job as a qwthn `BackendJob`: `result(timeout)` waits on the Qiskit job without blocking forever.

The runtime submits every chunk before collecting any, so a remote device queues them together;
this handle only waits and converts. Qiskit's local `PrimitiveJob.result()` takes no timeout,
so the wait polls `done()`; IBM's `RuntimeJobV2` is polled the same way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from qwthn.errors import BackendTimeoutError, TransientBackendError

TRANSIENT = (ConnectionError,)
"""Failures of the transport, worth a retry; anything else from the job is a real error."""


class PrimitiveJobHandle:
    """Waits on `job` and turns its `PrimitiveResult` into a [rows, n_outputs] tensor via `finish`."""

    def __init__(self, job: Any, finish: Callable[[Any], np.ndarray], *, what: str) -> None:
        self.job, self._finish, self._what = job, finish, what
        self._value: torch.Tensor | None = None

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pause = 0.005
        while not self.job.done():
            left = deadline - time.monotonic()
            if left <= 0:
                with contextlib.suppress(Exception):  # a job that cannot be cancelled any more still times out
                    self.job.cancel()
                raise BackendTimeoutError(f"{self._what}: no result within {timeout:g} s")
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)

    def result(self, timeout: float | None = None) -> torch.Tensor:
        if self._value is None:
            if timeout is not None:
                self._wait(timeout)
            try:
                primitive_result = self.job.result()
            except TRANSIENT as error:
                raise TransientBackendError(f"{self._what}: {type(error).__name__}: {error}") from error
            self._value = torch.from_numpy(np.ascontiguousarray(self._finish(primitive_result), dtype=np.float64))
        return self._value
