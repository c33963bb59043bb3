"""The `qiskit` backend's options, validated by the core (a bad one is one `OptionsError` line naming it).

Objects are allowed where Qiskit users hold objects (a `NoiseModel`, a `BackendV2`); names are
allowed too, so YAML configs and the command line can select the same things.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from qiskit.providers import BackendV2
from qiskit_aer.noise import NoiseModel

from qwthn_qiskit.devices import device_noise_model, is_aer, resolve_backend


class QiskitOptions(BaseModel):
    """Where circuits run: Qiskit Aer (default) with an optional noise model, or a user's `BackendV2`."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True)

    backend: BackendV2 | str | None = Field(
        default=None,
        description="a BackendV2 to run on (device, fake device, AerSimulator), or a name: a "
        "qiskit_ibm_runtime.fake_provider class ('FakeManilaV2'), 'generic:N' (noiseless line of N qubits), "
        "'aer:<name>' (that device's target and noise on a local AerSimulator); null: the built-in AerSimulator",
    )
    noise_model: NoiseModel | str | None = Field(
        default=None,
        description="qiskit_aer NoiseModel for the built-in simulator, or a fake device name whose noise model to "
        "use (e.g. 'FakeManilaV2'); wire k runs on the model's qubit k",
    )
    method: Literal["automatic", "statevector", "density_matrix"] = Field(
        default="automatic",
        description="built-in simulator method; automatic: density_matrix with a noise model (exact), else "
        "statevector; statevector with noise samples trajectories, so it needs shots",
    )
    optimization_level: int = Field(default=1, ge=0, le=3, description="preset pass manager level when transpiling")
    seed_transpiler: int = Field(
        default=0, ge=0, description="seed of layout and routing, so a circuit maps reproducibly"
    )
    max_batch: int | None = Field(
        default=None, ge=1, description="most rows per call (also capped by the device's max_circuits); null: unbounded"
    )
    max_qubits: int | None = Field(
        default=None,
        ge=1,
        description="cap on circuit size (a memory guard); null: what the simulator or device allows",
    )
    max_parallel_threads: int = Field(default=0, ge=0, description="Aer threads (0: Aer's default, all cores)")

    @field_validator("backend", mode="after")
    @classmethod
    def _resolve_backend(cls, value: BackendV2 | str | None) -> BackendV2 | None:
        return resolve_backend(value) if isinstance(value, str) else value

    @field_validator("noise_model", mode="after")
    @classmethod
    def _resolve_noise(cls, value: NoiseModel | str | None) -> NoiseModel | None:
        if isinstance(value, str):
            return device_noise_model(resolve_backend(value))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> QiskitOptions:
        if self.backend is not None and self.noise_model is not None:
            raise ValueError(
                "noise_model applies to the built-in simulator only; give a device backend its own noise "
                "(e.g. AerSimulator(noise_model=...) or backend='aer:FakeManilaV2') and leave noise_model unset"
            )
        if self.backend is not None and self.method != "automatic":
            raise ValueError("method applies to the built-in simulator only; configure your backend object instead")
        return self

    @property
    def aer(self) -> bool:
        """Runs on Aer (built in or the user's AerSimulator): exact values and one-run batches are available."""
        return is_aer(self.backend)

    @property
    def simulation_method(self) -> str:
        """The built-in simulator's method once 'automatic' is resolved."""
        if self.method != "automatic":
            return self.method
        return "density_matrix" if self.noise_model is not None else "statevector"
