"""How one chunk of rows becomes Braket SDK calls (the SDK's own batching, never one call per row from here).

- exact (shots=None): `device.run_batch(exact_program, shots=0, inputs=[one dict per row])`;
  a local simulator runs it in `max_parallel` worker processes, an AWS simulator as one task per row.
- shots: one `ProgramSet` holding the sampling program with a list of values per parameter
  (one executable per row, `shots` each), run as one task. A device's program sets may
  also cap the total shots of one set: when rows x shots exceed it, `ProgramSet.split`
  cuts the set into several tasks of the same job (the contract's `max_batch` cannot say
  "rows per call depends on shots"). Devices without program sets get
  `run_batch(sampling_program, shots=shots, inputs=[...])`.

On a local simulator the seed is set on the simulator before each run (see `simulators`); an
AWS device cannot be seeded, so its shots do not follow `seed`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from braket.ir.openqasm import Program
from braket.program_sets import ProgramSet
from braket.tasks.local_quantum_task import LocalQuantumTask

from qwthn.errors import TransientBackendError
from qwthn_braket.device import DeviceLimits, OpenDevice
from qwthn_braket.jobs import cancel
from qwthn_braket.options import BraketOptions
from qwthn_braket.program import CompiledCircuit
from qwthn_braket.results import exact_rows, measured_rows, program_set_rows

Decode = Callable[[list[Any]], np.ndarray]

TRANSIENT_AWS_CODES = frozenset(
    {"ThrottlingException", "ServiceQuotaExceededException", "InternalServiceException", "DeviceOfflineException"}
)
"""Braket API error codes worth resubmitting for; others (validation, access, retired device) are real errors."""


@contextmanager
def _local_run() -> Iterator[None]:
    """A local run, without the SDK's advice to use braket_sv when braket_dm gets a noise-free circuit (chosen)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are running a noise-free circuit on the density matrix")
        yield


@contextmanager
def _transient_aws_errors() -> Iterator[None]:
    """Turn throttling, quota, service-side and connection failures of a submission into TransientBackendError."""
    from botocore.exceptions import ClientError, ConnectionClosedError, ConnectionError, ReadTimeoutError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in TRANSIENT_AWS_CODES:
            raise TransientBackendError(f"braket: submission refused ({code}): {error}") from error
        raise
    except (ConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
        raise TransientBackendError(f"braket: connection failed while submitting: {error}") from error


class Executor:
    """Submits chunks to one opened device; returns (tasks, decode) for a `BraketJob`."""

    def __init__(self, opened: OpenDevice, limits: DeviceLimits, options: BraketOptions) -> None:
        self.device, self.simulator = opened.device, opened.simulator
        self.limits, self.options = limits, options

    @property
    def local(self) -> bool:
        return self.options.local

    def _remote_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"poll_interval_seconds": self.options.poll_interval}
        if self.options.s3_bucket is not None:
            kwargs["s3_destination_folder"] = (self.options.s3_bucket, self.options.s3_prefix)
        return kwargs

    def exact(self, compiled: CompiledCircuit, values: np.ndarray) -> tuple[list[Any], Decode]:
        rows = compiled.rows(values)
        if self.local:
            with _local_run():
                batch = self.device.run_batch(
                    compiled.exact, shots=0, inputs=rows, max_parallel=self.options.max_parallel
                )
            tasks = [LocalQuantumTask(result) for result in batch.results()]
        else:
            with _transient_aws_errors():
                tasks = self.device.run_batch(compiled.exact, shots=0, inputs=rows, **self._remote_kwargs()).tasks
        return tasks, lambda results: exact_rows(compiled, results)

    def sampled(
        self, compiled: CompiledCircuit, values: np.ndarray, shots: int, seed: int | None
    ) -> tuple[list[Any], Decode]:
        if not self.limits.program_sets:
            with _transient_aws_errors():
                batch = self.device.run_batch(
                    compiled.sampling, shots=shots, inputs=compiled.rows(values), **self._remote_kwargs()
                )
            return batch.tasks, lambda results: measured_rows(compiled, results)
        program_sets, index_maps = self.program_set(compiled, values, shots).split(self.rows_per_program_set(shots))
        children = np.random.SeedSequence(seed).spawn(len(program_sets))
        tasks: list[Any] = []
        try:
            for program_set, child in zip(program_sets, children, strict=True):
                total = program_set.total_executables * shots
                if self.simulator is not None:
                    self.simulator.reseed(child)
                    with _local_run():
                        tasks.append(self.device.run(program_set, shots=total))
                else:
                    with _transient_aws_errors():
                        tasks.append(self.device.run(program_set, shots=total, **self._remote_kwargs()))
        except Exception:
            cancel(tasks)  # the runtime resubmits the whole chunk: do not leave its first sets queued
            raise
        return tasks, lambda results: program_set_rows(compiled, results, index_maps)

    def rows_per_program_set(self, shots: int) -> int:
        """Most executables one program set may hold at `shots` per executable."""
        limits = [self.limits.max_executables or np.iinfo(np.int64).max]
        if self.limits.max_total_shots:
            limits.append(self.limits.max_total_shots // shots)
        return max(1, int(min(limits)))

    @staticmethod
    def program_set(compiled: CompiledCircuit, values: np.ndarray, shots: int) -> ProgramSet:
        """One executable per row: the sampling program with one list of values per parameter."""
        source = compiled.sampling.source
        if compiled.names:
            return ProgramSet(Program(source=source, inputs=compiled.columns(values)), shots_per_executable=shots)
        return ProgramSet([Program(source=source) for _ in range(values.shape[0])], shots_per_executable=shots)
