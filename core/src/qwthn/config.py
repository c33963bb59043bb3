"""Adapter configurations: validated pydantic models, saved next to every adapter.

Defaults are chosen so that on `q_proj`/`v_proj` of a Qwen2.5-1.5B-shaped model
QWTHN trains under 30% of LoRA r=4's parameters (the paper's "76% fewer");
`tests/test_parameter_budget.py` holds them to that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from qwthn.errors import QwthnError

TargetModules = Union[list[str], str]


class _AdapterBase(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    target_modules: TargetModules = Field(
        default_factory=lambda: ["q_proj", "v_proj"],
        description="module names: exact or dotted suffix; a string is a regex (full match); 'all-linear'",
    )
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="dropout on the adapter's input")

    @field_validator("target_modules")
    @classmethod
    def _non_empty(cls, value: TargetModules) -> TargetModules:
        if not value:
            raise ValueError("name at least one module, e.g. ['q_proj', 'v_proj'] or 'all-linear'")
        return value


class QWTHNConfig(_AdapterBase):
    """W0 x + scale * U(fuse(z, QNN(z))), z = D(x); D and U are MPOs (docs/algorithm.md)."""

    method: Literal["qwthn"] = "qwthn"
    n_qubits: int = Field(default=4, ge=1, le=24, description="qubits of the QNN (= width of the MPO down-map)")
    n_layers: int = Field(default=2, ge=1, le=64, description="trainable RY+RZ+CZ layers of the QNN")
    encoding: Literal["ry", "rx"] = Field(default="ry", description="rotation that encodes z_i on qubit i")
    reupload: bool = Field(default=False, description="re-encode z before every trainable layer")
    entangler: Literal["chain", "ring", "none"] = Field(default="chain", description="CZ pattern between layers")
    readout: Literal["expval_z", "probs"] = Field(default="expval_z", description="<Z_i> (n) or probabilities (2^n)")
    fusion: Literal["weighted", "linear"] = Field(default="weighted", description="v1 z*(1+q) or v2 [a z; b q]")
    bond_dim: int = Field(default=4, ge=1, le=256, description="MPO bond dimension of both maps")
    mpo_cores: int = Field(default=3, ge=1, le=8, description="number of MPO cores each map factorises into")
    scale: float = Field(default=1.0, gt=0.0, description="s in W0 x + s * Delta(x)")
    backend: str = Field(default="emulator", min_length=1, description="entry-point name of the quantum backend")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="keyword options of the backend")
    shots: int | None = Field(default=None, ge=1, description="finite shots per sample; null = exact")
    seed: int | None = Field(default=None, description="seed of the circuit-weight init and of shot sampling")

    @model_validator(mode="after")
    def _fusion_matches_readout(self) -> QWTHNConfig:
        if self.fusion == "weighted" and self.readout == "probs":
            raise ValueError(
                "fusion 'weighted' needs readout 'expval_z' (it multiplies z by <Z_i>); or use fusion 'linear'"
            )
        return self


class LoRAConfig(_AdapterBase):
    """W0 x + (alpha / r) * B A x, B zero-initialised (Hu et al. 2021)."""

    method: Literal["lora"] = "lora"
    r: int = Field(default=4, ge=1, description="rank")
    alpha: float = Field(default=8.0, gt=0.0, description="scale numerator: the update is multiplied by alpha/r")


AdapterConfig = Annotated[Union[QWTHNConfig, LoRAConfig], Field(discriminator="method")]
_adapter_config = TypeAdapter(AdapterConfig)


def describe_validation_error(error: ValidationError, source: str) -> str:
    """One line naming the first bad field and what it accepts."""
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    if location and location[0] in ("qwthn", "lora"):  # the discriminator tag, not a field
        location = location[1:]
    message = first["msg"].removeprefix("Value error, ")
    if not location:
        return f"{source}: {message}"
    return f"{source}: invalid '{'.'.join(location)}': {message} (got {first.get('input')!r})"


def parse_adapter_config(data: dict[str, Any], source: str = "config") -> QWTHNConfig | LoRAConfig:
    """Validate a mapping into a config; `method` defaults to 'qwthn'."""
    if not isinstance(data, dict):
        raise QwthnError(f"{source}: expected a mapping of options, got {type(data).__name__}")
    data = {"method": "qwthn", **data}
    try:
        return _adapter_config.validate_python(data)
    except ValidationError as error:
        raise QwthnError(describe_validation_error(error, source)) from None


def load_adapter_config(path: str | Path) -> QWTHNConfig | LoRAConfig:
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
