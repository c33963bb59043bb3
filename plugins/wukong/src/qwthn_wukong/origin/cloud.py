"""Submit pyqpanda3 programs to Origin Quantum's cloud (QCloudService) in batches of at most 200.

NOT RUN against Origin's cloud: written from pyqpanda3 0.5.1's signatures and docstrings (checked by
introspection) and unit-tested only with a fake service/backend/job; there was no network and no API key.

The API key is read from the environment variable `QWTHN_ORIGIN_API_KEY` when no service is injected;
it is passed to `QCloudService` and never stored, logged or written anywhere.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from qwthn.errors import BackendTimeoutError, QwthnError, TransientBackendError
from qwthn_wukong.origin.translate import probs_from_dict

API_KEY_ENV = "QWTHN_ORIGIN_API_KEY"
MAX_PROGRAMS_PER_BATCH = 200
DEFAULT_CHIP = "72"


def default_service() -> Any:
    """`pyqpanda3.qcloud.QCloudService(api_key)` with the key from `QWTHN_ORIGIN_API_KEY`."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise QwthnError(f"no Origin Quantum API key: set the environment variable {API_KEY_ENV}")
    from pyqpanda3.qcloud import QCloudService

    return QCloudService(key)


def split_batches(items: Sequence[Any], size: int = MAX_PROGRAMS_PER_BATCH) -> list[list[Any]]:
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def _status_name(status: Any) -> str:
    name = getattr(status, "name", None)
    return str(name if name is not None else status).rsplit(".", 1)[-1].upper()


class CloudJob:
    """The jobs of one `CloudRunner.run` call; `result(timeout)` -> [B, 2^n] float64 big-endian probabilities.

    Each cloud job is polled through `status()` (pyqpanda3's `QCloudJob.result()` blocks without a
    timeout) until FINISHED, then its `result().get_probs_list()` gives one {bit string: p} per program.
    Past `timeout` seconds (for all groups together) a retryable `BackendTimeoutError` is raised; a FAILED
    job raises `TransientBackendError` with the cloud's error message.
    """

    def __init__(
        self,
        jobs: list[Any],
        sizes: list[int],
        n_qubits: int,
        *,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.jobs, self.sizes, self.n_qubits = jobs, sizes, n_qubits
        self.poll_s, self._clock, self._sleep = poll_s, clock, sleep

    def result(self, timeout: float | None = None) -> torch.Tensor:
        deadline = None if timeout is None else self._clock() + timeout
        rows: list[np.ndarray] = []
        for index, (job, size) in enumerate(zip(self.jobs, self.sizes, strict=True)):
            self._wait(job, index, deadline, timeout)
            outcome = job.result()
            probs_list = list(outcome.get_probs_list())
            if len(probs_list) != size:
                raise QwthnError(f"cloud group {index} returned {len(probs_list)} results for {size} programs")
            rows.extend(probs_from_dict(probs, self.n_qubits) for probs in probs_list)
        return torch.as_tensor(np.stack(rows), dtype=torch.float64)

    def _wait(self, job: Any, index: int, deadline: float | None, timeout: float | None) -> None:
        if not hasattr(job, "status"):
            return
        while True:
            status = _status_name(job.status())
            if status == "FINISHED":
                return
            if status == "FAILED":
                message = ""
                with contextlib.suppress(Exception):  # the message is best effort
                    message = str(job.result().error_message())
                raise TransientBackendError(f"Origin cloud job group {index} failed: {message or 'no message'}")
            if deadline is not None and self._clock() >= deadline:
                raise BackendTimeoutError(
                    f"Origin cloud job group {index} of {len(self.jobs)} not finished after {timeout} s"
                )
            wait = self.poll_s if deadline is None else max(0.0, min(self.poll_s, deadline - self._clock()))
            self._sleep(wait)


class CloudRunner:
    """Runs lists of `QProg` on an Origin cloud backend (chip id, e.g. "72" / "origin_wukong", or a simulator).

    service: an object with `.backend(name)` (default: `default_service()`, key from `QWTHN_ORIGIN_API_KEY`).
    options: passed through to `backend.run` (e.g. a `QCloudOptions` for a QPU); None lets pyqpanda3 choose.
    NEVER RUN against Origin's cloud; see the module docstring.
    """

    def __init__(
        self,
        chip_id: str = DEFAULT_CHIP,
        *,
        service: Any | None = None,
        options: Any | None = None,
        batch_size: int = MAX_PROGRAMS_PER_BATCH,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 1 <= batch_size <= MAX_PROGRAMS_PER_BATCH:
            raise ValueError(f"batch_size must lie in 1..{MAX_PROGRAMS_PER_BATCH}, got {batch_size}")
        self.chip_id, self.options, self.batch_size = chip_id, options, batch_size
        self._service = service
        self._backend: Any | None = None
        self.poll_s, self._clock, self._sleep = poll_s, clock, sleep

    @property
    def backend(self) -> Any:
        if self._backend is None:
            service = self._service if self._service is not None else default_service()
            self._backend = service.backend(self.chip_id)
        return self._backend

    def run(self, progs: Sequence[Any], shots: int, n_qubits: int) -> CloudJob:
        """Submit `progs` (measured on cbits 0..n_qubits-1) in groups of at most `batch_size`; order is kept."""
        if shots < 1:
            raise ValueError(f"shots must be >= 1, got {shots}")
        if not progs:
            raise ValueError("no programs to run")
        groups = split_batches(progs, self.batch_size)
        jobs = []
        for group in groups:
            if self.options is None:
                jobs.append(self.backend.run(group, shots))
            else:
                jobs.append(self.backend.run(group, shots, self.options))
        return CloudJob(
            jobs, [len(g) for g in groups], n_qubits, poll_s=self.poll_s, clock=self._clock, sleep=self._sleep
        )
