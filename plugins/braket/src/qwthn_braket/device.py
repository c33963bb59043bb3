"""Opening the Braket device an options model names, and reading its limits from its properties.

Local simulators and AWS devices describe themselves with the same schema
(`device.properties`): qubit count, supported OpenQASM operations, the shot range, and,
if the device takes program sets, their executable and total-shot limits. The backend's
capabilities are derived from these, so a local simulator and a remote device go through
the same code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from braket.device_schema import DeviceActionType

from qwthn_braket.options import BraketOptions
from qwthn_braket.simulators import SEEDED_SIMULATORS, Seeded

UNBOUNDED = sys.maxsize


@dataclass(frozen=True)
class DeviceLimits:
    """What one Braket device accepts."""

    max_qubits: int
    operations: frozenset[str]
    """Lower-case OpenQASM gate names of `braket.ir.openqasm.program`."""
    min_shots: int
    max_shots: int
    program_sets: bool
    """It runs `braket.ir.openqasm.program_set` (ProgramSet) tasks."""
    max_executables: int | None = None
    max_total_shots: int | None = None

    @property
    def exact(self) -> bool:
        """shots=0 gives exact result types (simulators)."""
        return self.min_shots == 0

    @property
    def max_shots_per_row(self) -> int | None:
        """Most shots one row may take: the shot range, and one program set's total when shots go that way."""
        limits = [self.max_shots]
        if self.program_sets and self.max_total_shots:
            limits.append(self.max_total_shots)
        limit = min(limits)
        return None if limit >= UNBOUNDED else limit


def _action(properties: Any, action: DeviceActionType) -> Any | None:
    actions = properties.action
    return actions.get(action) if isinstance(actions, dict) else None


def read_limits(properties: Any) -> DeviceLimits:
    """The limits in a device's `properties` (a `DeviceCapabilities`, or any object shaped like one)."""
    program = _action(properties, DeviceActionType.OPENQASM)
    if program is None:
        raise ValueError("braket: the device does not run OpenQASM programs (gate-model circuits)")
    shots_range = properties.service.shotsRange
    program_set = _action(properties, DeviceActionType.OPENQASM_PROGRAM_SET)
    return DeviceLimits(
        max_qubits=int(properties.paradigm.qubitCount),
        operations=frozenset(name.lower() for name in program.supportedOperations),
        min_shots=int(shots_range[0]),
        max_shots=int(shots_range[1]),
        program_sets=program_set is not None,
        max_executables=getattr(program_set, "maximumExecutables", None),
        max_total_shots=getattr(program_set, "maximumTotalShots", None),
    )


@dataclass(frozen=True)
class OpenDevice:
    """A Braket device and, for local simulators, the seeded simulator inside it."""

    device: Any
    simulator: Seeded | None = None


def open_device(options: BraketOptions) -> OpenDevice:
    """A `LocalSimulator` with seeded sampling for 'braket_sv'/'braket_dm'; an `AwsDevice` for an ARN.

    Creating an `AwsDevice` calls AWS (it fetches the device's properties), so it needs
    credentials in the environment; this path was exercised only with fake devices.
    """
    if options.local:
        from braket.devices import LocalSimulator

        simulator = SEEDED_SIMULATORS[options.device]()
        return OpenDevice(LocalSimulator(simulator), simulator)
    from braket.aws import AwsDevice

    return OpenDevice(AwsDevice(options.device))
