"""The Braket backend's options, validated by the core against this model before the backend is built."""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LOCAL_SIMULATORS = ("braket_sv", "braket_dm")
"""The SDK's offline simulators (`LocalSimulator(name)`): state vector, and density matrix (noise)."""

ARN_PATTERN = re.compile(r"^arn:aws:braket:[a-z0-9-]*::device/\S+$")
"""What an Amazon Braket device ARN looks like, e.g. arn:aws:braket:::device/quantum-simulator/amazon/sv1."""


class BraketOptions(BaseModel):
    """`device` picks where circuits run; the noise options only exist on the local density-matrix simulator.

    `depolarizing` uses Braket's convention, `Noise.Depolarizing(p)`: rho -> (1-p) rho + p/3 (X rho X +
    Y rho Y + Z rho Z), so a single qubit's <Z> shrinks by 1 - 4p/3 (Qiskit Aer's and pyqpanda3's
    `depolarizing_error(lam)` with lam = 4p/3 is the same channel).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    device: str = Field(
        default="braket_sv",
        description="'braket_sv' or 'braket_dm' (local, offline) or an Amazon Braket device ARN "
        "(AwsDevice: needs AWS credentials in the environment)",
    )
    depolarizing: float = Field(
        default=0.0, ge=0.0, le=0.75,
        description="braket_dm only: Noise.Depolarizing(p) after every gate on each of its qubits (Braket convention: "
        "<Z> of one qubit shrinks by 1 - 4p/3)",
    )  # fmt: skip
    readout_error: float = Field(
        default=0.0, ge=0.0, le=0.5, description="braket_dm only: Noise.BitFlip(p) on every qubit before read-out"
    )
    max_parallel: int = Field(
        default=1, ge=1, description="local only: worker processes LocalSimulator.run_batch uses for exact batches"
    )
    max_batch: int | None = Field(
        default=None, ge=1, description="cap on rows per call, below the device's own program-set limit"
    )
    max_qubits: int | None = Field(
        default=None, ge=1, description="cap on circuit size, below the device's qubit count (e.g. for braket_dm)"
    )
    poll_interval: float = Field(default=1.0, gt=0.0, description="remote only: seconds between task status polls")
    s3_bucket: str | None = Field(
        default=None, description="remote only: S3 bucket for task results (None: the SDK's default bucket)"
    )
    s3_prefix: str = Field(default="qwthn", description="remote only: key prefix for task results in s3_bucket")

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value in LOCAL_SIMULATORS or ARN_PATTERN.match(value):
            return value
        raise ValueError(f"must be one of {list(LOCAL_SIMULATORS)} or a Braket device ARN (arn:aws:braket:...)")

    @field_validator("poll_interval")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number of seconds")
        return value

    @model_validator(mode="after")
    def _noise_needs_density_matrix(self) -> BraketOptions:
        noisy = [name for name in ("depolarizing", "readout_error") if getattr(self, name) > 0]
        if noisy and self.device != "braket_dm":
            raise ValueError(
                f"noise options ({', '.join(noisy)}) need device='braket_dm' (the local density-matrix simulator), "
                f"got device={self.device!r}"
            )
        return self

    @property
    def local(self) -> bool:
        return self.device in LOCAL_SIMULATORS

    @property
    def noisy(self) -> bool:
        return self.depolarizing > 0 or self.readout_error > 0
