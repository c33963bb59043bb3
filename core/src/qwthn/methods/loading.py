"""Reading adapter configs: a mapping or a YAML/JSON file -> the registered method's config model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from qwthn.errors import QwthnError
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
    path = Path(path)
    if not path.is_file():
        raise QwthnError(f"config file {path} does not exist; pass an existing YAML or JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise QwthnError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise QwthnError(f"config file {path} is not valid JSON (line {error.lineno}, column {error.colno}): "
                         f"{error.msg}") from None  # fmt: skip
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise QwthnError(f"config file {path} is not valid YAML{where}: {reason}") from None
    return parse_adapter_config(data or {}, source=str(path))
