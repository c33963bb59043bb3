"""The `pennylane` backend's options, validated by the core before the backend is built.

Every check that needs PennyLane (is the device installed, does its constructor take
these keyword arguments, can it run the chosen gradient or noise) happens here, so a
mistake is one `OptionsError` line naming the option instead of a traceback at the
first training step. PennyLane is imported lazily: listing backends stays cheap.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

DiffMethod = Literal["auto", "backprop", "adjoint", "parameter-shift"]

RESERVED_KWARGS = {
    "wires": "the backend sizes the device to each circuit",
    "shots": "set shots in the runtime config (shots on a PennyLane device are deprecated)",
    "seed": "set seed in the runtime config; each call gets its own seed from it",
}


class NoiseOptions(BaseModel):
    """Channels PennyLane inserts after every gate, on each of its wires (needs a mixed-state device).

    `depolarizing` is PennyLane's `DepolarizingChannel(p)`: (1-p) rho + p/3 (X rho X + Y rho Y + Z rho Z),
    so <Z> shrinks by 1 - 4p/3 (Qiskit's depolarizing_error(lambda) is lambda = 4p/3).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    depolarizing: float = Field(default=0.0, ge=0.0, le=0.75, description="DepolarizingChannel p after each gate")
    amplitude_damping: float = Field(default=0.0, ge=0.0, le=1.0, description="AmplitudeDamping gamma after each gate")

    @property
    def active(self) -> bool:
        return self.depolarizing > 0 or self.amplitude_damping > 0


class PennyLaneOptions(BaseModel):
    """Which PennyLane device runs the circuits, and how it is differentiated.

    `diff_method`: "auto" picks backprop (torch autograd through the simulation) where the
    device supports it (default.qubit, default.mixed), else the device's adjoint method
    (lightning.qubit), else qwthn's core parameter-shift. "parameter-shift" always means the
    core's rule (shifted copies of the whole batch in one execution).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = Field(
        default="default.qubit", min_length=1, description="PennyLane device name, e.g. default.qubit, lightning.qubit"
    )
    device_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="extra keyword arguments of the device's constructor (not wires/shots/seed)"
    )
    diff_method: DiffMethod = Field(
        default="auto",
        description="gradient: auto | backprop (autograd) | adjoint (device vjp) | parameter-shift (core)",
    )
    noise: NoiseOptions | None = Field(default=None, description="noise channels after every gate (mixed-state device)")
    max_qubits: int | None = Field(
        default=None, ge=1, le=40, description="largest circuit accepted; None: 20 (state vector), 10 (density matrix)"
    )
    max_batch: int | None = Field(default=None, ge=1, description="most rows per device call (None: unbounded)")

    @field_validator("device")
    @classmethod
    def _installed(cls, name: str) -> str:
        from qwthn_pennylane.devices import installed_devices

        known = installed_devices()
        if name not in known:
            raise ValueError(
                f"no installed PennyLane device is called {name!r}; installed: {', '.join(known)} "
                '(list them with: python -c "import pennylane; print(sorted(pennylane.plugin_devices))"; '
                "a plugin's devices appear once it is pip-installed)"
            )
        return name

    @field_validator("device_kwargs")
    @classmethod
    def _accepted(cls, kwargs: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        for key, why in RESERVED_KWARGS.items():
            if key in kwargs:
                raise ValueError(f"{key!r} is not allowed here: {why}")
        device = info.data.get("device")
        if device is None:
            return kwargs
        from qwthn_pennylane.devices import constructor_parameters, probe_device

        accepted, open_ended = constructor_parameters(device)
        accepted -= set(RESERVED_KWARGS)
        unknown = sorted(set(kwargs) - accepted)
        if unknown and not open_ended:
            raise ValueError(
                f"device {device!r} takes no argument(s) {unknown}; it takes: {', '.join(sorted(accepted)) or 'none'}"
            )
        try:
            probe_device(device, kwargs)
        except Exception as error:  # the device's own complaint, on one line
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ValueError(f"device {device!r} cannot be built with these arguments: {reason}") from None
        return kwargs

    @field_validator("diff_method")
    @classmethod
    def _differentiable(cls, method: str, info: ValidationInfo) -> str:
        if method in ("auto", "parameter-shift") or "device_kwargs" not in info.data:
            return method
        from qwthn_pennylane.devices import probe_device, supports_method

        device = probe_device(info.data["device"], info.data["device_kwargs"])
        if not supports_method(device, method):
            raise ValueError(
                f"device {info.data['device']!r} does not support diff_method {method!r}; "
                "use 'auto' (it picks what the device supports) or 'parameter-shift'"
            )
        return method

    @field_validator("noise")
    @classmethod
    def _noisy_device(cls, noise: NoiseOptions | None, info: ValidationInfo) -> NoiseOptions | None:
        if noise is None or not noise.active or "device_kwargs" not in info.data:
            return noise
        from qwthn_pennylane.devices import probe_device, runs_channels

        if not runs_channels(probe_device(info.data["device"], info.data["device_kwargs"])):
            raise ValueError(
                f"device {info.data['device']!r} cannot apply noise channels; use a mixed-state device such as "
                "'default.mixed'"
            )
        if info.data.get("diff_method") == "adjoint":
            raise ValueError("adjoint differentiation is for pure states; use 'auto' or 'parameter-shift' with noise")
        return noise
