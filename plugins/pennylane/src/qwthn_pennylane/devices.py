"""Finding, probing and building PennyLane devices by name.

Any device PennyLane knows (its own, lightning's, or an installed plugin's, all
registered in the `pennylane.plugins` entry-point group) can back this backend, so
what the backend declares (gradient, shots) is read from the device itself rather
than from a list of names.
"""

from __future__ import annotations

import inspect
from typing import Any

DIFF_METHODS = ("backprop", "adjoint")
"""PennyLane's own gradients this backend can use, in the order "auto" prefers them."""


def installed_devices() -> list[str]:
    import pennylane as qml

    return sorted(qml.plugin_devices)


def device_class(name: str) -> type:
    import pennylane as qml

    return qml.plugin_devices[name].load()


def constructor_parameters(name: str) -> tuple[set[str], bool]:
    """(named keyword arguments of the device's constructor, whether it also takes **kwargs)."""
    parameters = inspect.signature(device_class(name).__init__).parameters
    named = {
        key
        for key, parameter in parameters.items()
        if key != "self" and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    }
    open_ended = any(parameter.kind == parameter.VAR_KEYWORD for parameter in parameters.values())
    return named, open_ended


def takes_seed(name: str) -> bool:
    """Shots are reproducible only on devices whose constructor takes a `seed`."""
    return "seed" in constructor_parameters(name)[0]


def make_device(name: str, kwargs: dict[str, Any], wires: int, seed: int | None = None) -> Any:
    """A device with `wires` wires; with `seed`, its sampling generator is seeded (one device per seeded call)."""
    import pennylane as qml

    extra = dict(kwargs)
    if seed is not None:
        extra["seed"] = seed
    return qml.device(name, wires=wires, **extra)


def probe_device(name: str, kwargs: dict[str, Any]) -> Any:
    """A one-wire instance, only to ask the device what it supports."""
    return make_device(name, kwargs, wires=1)


def supports_method(device: Any, method: str) -> bool:
    from pennylane.devices import ExecutionConfig

    try:
        return bool(device.supports_derivatives(ExecutionConfig(gradient_method=method)))
    except Exception:  # a plugin whose check itself fails cannot be trusted with the method
        return False


def supports_device_vjp(device: Any) -> bool:
    from pennylane.devices import ExecutionConfig

    try:
        return bool(device.supports_vjp(ExecutionConfig(gradient_method="adjoint")))
    except Exception:
        return False


def runs_channels(device: Any) -> bool:
    """Whether the device simulates the noise channels the `noise` option inserts (a density-matrix device).

    It must run them and get them right: <Z> after RY(0.3), DepolarizingChannel(0.1), AmplitudeDamping(0.1)
    is 1 - 2 (1 - 0.1) (1 - cos(0.3) (1 - 4 * 0.1 / 3)) / 2 (null.qubit, say, accepts channels and returns 0).
    """
    import math

    import pennylane as qml

    tape = qml.tape.QuantumScript(
        [qml.RY(0.3, wires=0), qml.DepolarizingChannel(0.1, wires=0), qml.AmplitudeDamping(0.1, wires=0)],
        [qml.expval(qml.Z(0))],
    )
    expected = 1 - (1 - 0.1) * (1 - math.cos(0.3) * (1 - 0.4 / 3))
    try:
        (value,) = qml.execute([tape], device)
        return abs(float(value) - expected) < 1e-6
    except Exception:
        return False


def resolve_diff_method(probe: Any, requested: str) -> str:
    """The diff method to use: for "auto", the first of backprop, adjoint the device supports, else parameter-shift."""
    if requested != "auto":
        return requested
    return next((method for method in DIFF_METHODS if supports_method(probe, method)), "parameter-shift")
