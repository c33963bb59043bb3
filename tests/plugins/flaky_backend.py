"""A fault-injecting backend: the emulator's results, behind random transient failures and slow jobs.

Faults are drawn from the backend's own generator, never from the shot seed, so a run that
survives them must equal a fault-free run exactly: that is what the runtime's retries promise.
"""

from __future__ import annotations

import random
import time
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from qwthn import Capabilities, QuantumBackend, TransientBackendError, get_backend, hookimpl
from qwthn.errors import BackendTimeoutError

HANG_SECONDS = 3600.0
"""A job that would outlive any test: only the runtime's timeout gets past it."""


class FlakyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_rate: float = Field(default=0.3, ge=0, le=1, description="chance that a submission fails outright")
    slow_rate: float = Field(default=0.2, ge=0, le=1, description="chance that a job takes `slow_seconds`")
    slow_seconds: float = Field(default=0.05, ge=0)
    fault_seed: int = 0
    hang_submissions: tuple[int, ...] = Field(default=(), description="submissions (1-based) whose job never finishes")
    fail_from: int | None = Field(default=None, ge=1, description="from this submission on, every one fails")
    gradient: Literal["autograd", "parameter-shift"] = "autograd"
    max_batch: int | None = Field(default=None, ge=1)


class SlowJob:
    """A job that takes `seconds`; waiting less than that is a timeout, as with a real queue."""

    def __init__(self, value: torch.Tensor, seconds: float) -> None:
        self.value, self.seconds = value, seconds

    def result(self, timeout: float | None = None) -> torch.Tensor:
        if timeout is not None and self.seconds > timeout:
            time.sleep(timeout)
            raise BackendTimeoutError(f"job still running after {timeout} s")
        time.sleep(self.seconds)
        return self.value


class FlakyBackend(QuantumBackend):
    name = "flaky-test"
    description = "the emulator behind random transient failures and delays (tests the runtime's retries)"
    Options = FlakyOptions

    def __init__(self, options: FlakyOptions | None = None) -> None:
        super().__init__(options)
        self.inner = get_backend("emulator", dtype="complex128")
        self.faults = random.Random(self.options.fault_seed)
        self.submissions = 0
        self.failures = 0

    @property
    def capabilities(self) -> Capabilities:
        inner = self.inner.capabilities
        return inner.model_copy(update={"gradient": self.options.gradient, "max_batch": self.options.max_batch})

    def compile(self, circuit):
        return self.inner.compile(circuit)

    def evaluate(self, compiled, inputs, weights, *, shots=None, seed=None):
        if self.options.gradient == "autograd":
            return self.inner.evaluate(compiled, inputs, weights, shots=shots, seed=seed)
        with torch.no_grad():
            return self.inner.evaluate(compiled, inputs, weights, shots=shots, seed=seed)

    def submit(self, compiled, inputs, weights, *, shots=None, seed=None):
        self.submissions += 1
        if self.options.fail_from is not None and self.submissions >= self.options.fail_from:
            self.failures += 1
            raise TransientBackendError("device offline for maintenance")
        if self.submissions in self.options.hang_submissions:
            return SlowJob(self.evaluate(compiled, inputs, weights, shots=shots, seed=seed), HANG_SECONDS)
        if self.faults.random() < self.options.failure_rate:
            self.failures += 1
            raise TransientBackendError("connection reset by peer")
        seconds = self.options.slow_seconds if self.faults.random() < self.options.slow_rate else 0.0
        return SlowJob(self.evaluate(compiled, inputs, weights, shots=shots, seed=seed), seconds)


@hookimpl
def qwthn_register_backends(register):
    register(FlakyBackend)
