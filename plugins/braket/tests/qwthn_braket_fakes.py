"""A fake `AwsDevice` for the remote path: the SDK's call shapes, results computed by the local simulator.

Nothing here talks to AWS: the remote path of qwthn-braket is tested only against this fake.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ClientError
from braket.device_schema import DeviceActionType
from braket.devices import LocalSimulator

from qwthn_braket.simulators import SeededStateVectorSimulator

QPU_ARN = "arn:aws:braket:eu-north-1::device/qpu/fake/Fake-QPU"
SIMULATOR_ARN = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
ALL_OPERATIONS = ("rx", "ry", "rz", "h", "x", "cz", "cnot", "i")


class FakeTask:
    """Shaped like `AwsQuantumTask`: `state()` walks through `states`; `result()` is None unless COMPLETED."""

    _ids = itertools.count()

    def __init__(self, result: Any, states: tuple[str, ...], events: list[str]) -> None:
        self.id = f"arn:aws:braket:::quantum-task/fake-{next(self._ids)}"
        self._result, self._states, self._events = result, states, events
        self.polls = 0
        self.cancelled = False

    def state(self, use_cached_value: bool = False) -> str:
        self._events.append("poll")
        self.polls += 1
        if self.cancelled:
            return "CANCELLED"
        return self._states[min(self.polls, len(self._states)) - 1]

    def result(self) -> Any:
        return self._result if self._states[-1] == "COMPLETED" and not self.cancelled else None

    def cancel(self) -> None:
        self.cancelled = True

    def metadata(self, use_cached_value: bool = False) -> dict[str, Any]:
        return {"failureReason": "fake device error"}


class FakeAwsDevice:
    """Shaped like `braket.aws.AwsDevice` for what qwthn-braket calls: properties, run, run_batch.

    `outcomes` gives the states of each submitted task in turn (the last one repeats);
    `refusals` the error codes of the first submissions (None: accepted), raised as botocore `ClientError`s.
    """

    def __init__(
        self,
        *,
        qubits: int = 6,
        operations: tuple[str, ...] = ALL_OPERATIONS,
        shots_range: tuple[int, int] = (1, 50_000),
        program_sets: bool = True,
        max_executables: int = 4,
        max_total_shots: int = 2_000,
        outcomes: list[tuple[str, ...]] | None = None,
        refusals: list[str | None] | None = None,
    ) -> None:
        action: dict[Any, Any] = {DeviceActionType.OPENQASM: SimpleNamespace(supportedOperations=list(operations))}
        if program_sets:
            action[DeviceActionType.OPENQASM_PROGRAM_SET] = SimpleNamespace(
                maximumExecutables=max_executables, maximumTotalShots=max_total_shots
            )
        self.properties = SimpleNamespace(
            action=action, service=SimpleNamespace(shotsRange=shots_range), paradigm=SimpleNamespace(qubitCount=qubits)
        )
        self.events: list[str] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.tasks: list[FakeTask] = []
        self._outcomes = list(outcomes or [("QUEUED", "RUNNING", "COMPLETED")])
        self._refusals = list(refusals or [])
        simulator = SeededStateVectorSimulator()
        simulator.reseed(1234)
        self._local = LocalSimulator(simulator)

    def _submit(self, kind: str, kwargs: dict[str, Any]) -> None:
        self.events.append("submit")
        self.calls.append((kind, kwargs))
        code = self._refusals.pop(0) if self._refusals else None
        if code is not None:
            raise ClientError({"Error": {"Code": code, "Message": "fake refusal"}}, "CreateQuantumTask")

    def _task(self, result: Any) -> FakeTask:
        states = self._outcomes.pop(0) if len(self._outcomes) > 1 else self._outcomes[0]
        task = FakeTask(result, states, self.events)
        self.tasks.append(task)
        return task

    def run(self, task_specification: Any, s3_destination_folder: Any = None, shots: int | None = None, **kwargs: Any):
        self._submit("run", {"shots": shots, "s3_destination_folder": s3_destination_folder, **kwargs})
        return self._task(self._local.run(task_specification, shots=shots).result())

    def run_batch(
        self,
        task_specifications: Any,
        s3_destination_folder: Any = None,
        shots: int | None = None,
        inputs: list[dict[str, float]] | None = None,
        **kwargs: Any,
    ):
        self._submit("run_batch", {"shots": shots, "inputs": inputs, "s3_destination_folder": s3_destination_folder})
        results = [self._local.run(task_specifications, shots=shots, inputs=row).result() for row in inputs]
        return SimpleNamespace(tasks=[self._task(result) for result in results])
