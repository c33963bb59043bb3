"""Counts what a runtime sent to its backend, as PennyLane's `Tracker` does for devices."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Tracker:
    """Running totals; a chunk is counted once, when its result arrives, however often it was retried."""

    calls: int = 0
    """Backend calls that returned a result (one per chunk)."""
    circuits: int = 0
    """Distinct circuits compiled (identical layers share one)."""
    rows: int = 0
    """Circuit executions: bound parameter sets evaluated."""
    shots: int = 0
    """rows x shots, for finite-shot runs."""
    retries: int = 0
    """Chunks submitted again after a transient failure."""
    seconds: float = 0.0
    """Wall time spent waiting on the backend."""
    estimated_device_seconds: float = 0.0
    """The backend's own estimate of device time for what was sent (0 if it gives none)."""

    def reset(self) -> None:
        for name, value in asdict(Tracker()).items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def summary(self) -> str:
        shots = f", {self.shots:,} shots" if self.shots else ""
        retries = f", {self.retries} retries" if self.retries else ""
        device = self.estimated_device_seconds
        device = f", about {device:.3g} s of device time" if device else ""
        return (
            f"{self.calls:,} backend calls, {self.circuits} compiled circuit(s), {self.rows:,} circuit rows"
            f"{shots}{retries}, {self.seconds:.1f} s in the backend{device}"
        )
