"""Reading adapter configs: a mapping or a YAML/JSON file -> the registered method's config model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from qwthn.errors import QwthnError
from qwthn.methods.base import AdapterConfig

RUNTIME_KEYS = ("backend", "backend_options", "shots", "device")
"""Where a circuit runs is never part of an adapter: these belong to `RuntimeConfig`."""


def describe_validation_error(error: ValidationError, source: str) -> str:
    """One line naming the first bad field and what it accepts."""
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    message = first["msg"].removeprefix("Value error, ")
    if not location:
        return f"{source}: {message}"
    return f"{source}: invalid '{'.'.join(location)}': {message} (got {first.get('input')!r})"


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


def load_adapter_config(path: str | Path) -> AdapterConfig:
    """Read a YAML or JSON adapter config file."""
    path = Path(path)
    if not path.is_file():
        raise QwthnError(f"config file {path} does not exist; pass an existing YAML or JSON file")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0]
        raise QwthnError(f"config file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {reason}") from None
    return parse_adapter_config(data or {}, source=str(path))
