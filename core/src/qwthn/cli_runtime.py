"""Where a command's circuits run, declared once: the runtime flags every command shares.

`RuntimeFlags` holds the `RuntimeConfig` fields a user chooses per run (backend, its options, shots,
device, timeout, retries); commands' options classes inherit it, and `with_runtime_flags` adds the
matching typer options to a command's signature from that one declaration. Per-command settings
with a command-specific meaning (seed, dry run, forward-only) stay with the command.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any, Optional

import typer

from qwthn.contract.backend import QuantumBackend
from qwthn.errors import QwthnError
from qwthn.runtime import RuntimeConfig

DEFAULT_BACKEND = "emulator"


@dataclass(kw_only=True)
class RuntimeFlags:
    """The runtime options a command was given; None means the default (`RuntimeConfig`'s)."""

    backend: str | None = None
    backend_options: str | dict[str, Any] | None = None
    """A JSON object as text (the command line) or a dict (Python)."""
    shots: int | None = None
    device: str | None = None
    timeout: float | None = None
    retries: int | None = None

    def parsed_backend_options(self) -> dict[str, Any]:
        """--backend-options: a JSON object, or one line saying what is wrong with it."""
        return parse_backend_options(self.backend_options)

    def check_runtime_flags(self) -> None:
        """Each flag inside the range `RuntimeConfig` declares, in one line naming the flag."""
        if isinstance(self.backend, str) and not self.backend.strip():
            raise QwthnError("--backend is empty; give it a value, or leave it out for the emulator")
        for name in ("shots", "timeout", "retries"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise QwthnError(f"--{name} must be a number, got {value!r}")
            for bound in RuntimeConfig.model_fields[name].metadata:
                low, above = getattr(bound, "ge", None), getattr(bound, "gt", None)  # pydantic's Ge / Gt metadata
                if low is not None and value < low:
                    raise QwthnError(f"--{name} must be at least {low}, got {value}")
                if above is not None and value <= above:
                    raise QwthnError(f"--{name} must be greater than {above}, got {value}")
        self.parsed_backend_options()

    def runtime_config(self, **command_settings: Any) -> RuntimeConfig:
        """The `RuntimeConfig` these flags choose, plus the command's own settings (seed, dry_run, ...)."""
        self.check_runtime_flags()
        chosen = {"backend": self.backend or DEFAULT_BACKEND, "backend_options": self.parsed_backend_options()}
        chosen |= {name: getattr(self, name) for name in ("shots", "device", "timeout", "retries")
                   if getattr(self, name) is not None}  # fmt: skip
        return RuntimeConfig(**chosen, **command_settings)


def parse_backend_options(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """A JSON object as text, a dict, or None (no options); anything else in one line."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise QwthnError(f"--backend-options is not valid JSON ({error.msg}); pass an object like '{{}}'") from None
    if not isinstance(parsed, dict):
        raise QwthnError('--backend-options must be a JSON object, e.g. \'{"dtype": "complex128"}\'')
    return parsed


def create_backend(config: RuntimeConfig) -> QuantumBackend:
    """The one backend instance a run uses: unknown names and bad options fail here, before any model loads."""
    from qwthn.plugins import host

    return host.create_backend(config.backend, config.backend_options)


def _backend_names() -> str:
    from qwthn.plugins import host

    return ", ".join(entry.name for entry in host.backends()) or "none installed"


RUNTIME_FLAG_TYPES: dict[str, type] = {
    "backend": str, "backend_options": str, "shots": int, "device": str, "timeout": float, "retries": int,
}  # fmt: skip
"""Each runtime flag's type on the command line (backend options arrive as JSON text)."""


def _default_help() -> dict[str, str]:
    retries = RuntimeConfig.model_fields["retries"].default
    return {
        "backend": f"Quantum backend: {_backend_names()} (see `qwthn backends`).  \\[default: {DEFAULT_BACKEND}]",
        "backend_options": "The backend's options as a JSON object (see `qwthn backends NAME`).  "
        "\\[default: its defaults]",
        "shots": "Finite shots per circuit row.  \\[default: exact expectation values]",
        "device": "Torch device the circuits compute on (cpu, cuda, ...).  \\[default: where their inputs are]",
        "timeout": "Seconds to wait for one backend job.  \\[default: no limit]",
        "retries": f"Re-submissions of a chunk after a transient backend failure.  \\[default: {retries}]",
    }


def with_runtime_flags(
    *names: str, help_overrides: dict[str, str] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the runtime flags `names` to a typer command; it receives them as one `runtime: RuntimeFlags`."""
    known = {f.name for f in fields(RuntimeFlags)}
    unknown = set(names) - known
    if unknown:
        raise ValueError(f"not runtime flags: {sorted(unknown)}; the runtime flags are {sorted(known)}")

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(command, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation), kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(command).parameters.values() if p.name != "runtime"]  # fmt: skip
        texts = _default_help() | (help_overrides or {})
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[Optional[RUNTIME_FLAG_TYPES[name]], typer.Option(help=texts[name])])
            for name in names
        ]  # fmt: skip

        @functools.wraps(command)
        def run_with_flags(**kwargs: Any) -> Any:
            runtime = RuntimeFlags(**{name: kwargs.pop(name) for name in names})
            return command(**kwargs, runtime=runtime)

        parameters = own + added
        run_with_flags.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
        run_with_flags.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
        del run_with_flags.__wrapped__  # typer must read the new signature, not the command's own
        return run_with_flags

    return decorate
