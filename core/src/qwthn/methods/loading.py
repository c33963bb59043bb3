"""Reading adapter configs: a mapping or a YAML/JSON file -> the registered method's config model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qwthn.errors import QwthnError
from qwthn.files import read_config_file
from qwthn.methods.base import AdapterConfig
from qwthn.validation import ConfigValueError, describe_validation_error

RUNTIME_KEYS = ("backend", "backend_options", "shots", "device")
"""Where a circuit runs is never part of an adapter: these belong to `RuntimeConfig`."""


def parse_adapter_config(data: Any, source: str = "config") -> AdapterConfig:
    """Validate a mapping into its method's config; `method` defaults to 'qwthn'."""
    from qwthn.plugins import host

    if not isinstance(data, dict):
        raise QwthnError(f"{source}: expected a mapping of options, got {type(data).__name__}")
    runtime = [key for key in RUNTIME_KEYS if key in data]
    if runtime:
        raise QwthnError(
            f"{source}: '{runtime[0]}' is a runtime setting, not part of an adapter; pass it in "
            "RuntimeConfig (CLI: --backend/--shots) and remove it here"
        )
    data = {"method": "qwthn", **data}
    try:
        spec = host.methods.get(data["method"])
    except QwthnError as error:
        raise QwthnError(f"{source}: invalid 'method': {error}") from None
    try:
        return spec.config_class.model_validate(data)
    except ValidationError as error:
        raise QwthnError(describe_validation_error(error, source)) from None
    except ConfigValueError as error:  # raised by AdapterConfig.__init__, which validation goes through
        raise QwthnError(f"{source}: {error.detail}") from None


def load_adapter_config(path: str | Path) -> AdapterConfig:
    """Read a YAML or JSON adapter config file."""
    return parse_adapter_config(read_config_file(path) or {}, source=str(path))
