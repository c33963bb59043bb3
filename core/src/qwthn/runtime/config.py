"""Where and how circuits run: the runtime settings, never saved with an adapter.

An adapter trained on the emulator runs on another backend by loading it with a
different `RuntimeConfig`, not by editing its saved file (as peft keeps
`runtime_config` out of `to_dict()`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from qwthn.validation import OneLineErrors, Seed


class RuntimeConfig(OneLineErrors):
    """Backend choice and execution policy for every circuit of one model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = Field(default="emulator", min_length=1, description="entry-point name of the quantum backend")
    backend_options: dict[str, Any] = Field(
        default_factory=dict, description="the backend's options (its Options model)"
    )
    shots: int | None = Field(default=None, ge=1, description="finite shots per circuit row; null = exact")
    seed: Seed | None = Field(default=None, description="root seed of shot sampling; layers get independent streams")
    device: str | None = Field(
        default=None, description="torch device the circuit computes on; null = wherever its inputs are"
    )
    timeout: float | None = Field(
        default=None, gt=0, description="seconds to wait for one backend job; null = no limit"
    )
    retries: int = Field(default=3, ge=0, description="re-submissions of a chunk after a transient backend failure")
    retry_backoff: float = Field(default=0.5, ge=0, description="seconds before the first retry, doubling each time")
    forward_only: bool = Field(
        default=False,
        description="circuits run forward only: circuit weights frozen and no gradient through any circuit "
        "(how the QTHA authors ran their chip); the classical parts still train",
    )
    dry_run: bool = Field(
        default=False, description="count calls, circuits, rows and shots (and estimated device time) without sending"
    )

    def __init__(self, **data: Any) -> None:
        """Built in Python, a bad value, an unknown backend or a bad backend option fails here, in one line,
        not later when the first layer is injected."""
        from qwthn.plugins import host, validate_options

        super().__init__(**data)
        validate_options(host.backend_entry(self.backend).backend_class, self.backend_options)
