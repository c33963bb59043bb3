"""What every adapter method shares: a saved config model and a layer wrapping a frozen `nn.Linear`."""

from __future__ import annotations

import re
from abc import abstractmethod
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, ClassVar, Literal, Union

import torch
from pydantic import ConfigDict, Field, field_validator
from torch import nn

from qwthn.errors import QwthnError
from qwthn.validation import OneLineErrors

if TYPE_CHECKING:
    from qwthn.contract.circuit import Circuit
    from qwthn.runtime.executor import Runtime

TargetModules = Union[list[str], str]


def target_pattern(value: str) -> re.Pattern:
    """A `target_modules` string as the regex it is, or the one message for a bad one wherever it is checked."""
    try:
        return re.compile(value)
    except re.error as error:
        raise ValueError(f"the regex {value!r} is invalid ({error}); a string is a regular expression matching "
                         "full module names, a list names modules") from None  # fmt: skip


def pattern_key(keys: list[str], module: str) -> str | None:
    """The first key that names `module` as peft reads rank_pattern/alpha_pattern keys: a regex matching the
    whole name or its tail after a dot (`q_proj`, `layers.0.self_attn.q_proj`, `layers\\.\\d\\.q_proj`)."""
    return next((key for key in keys if re.match(rf"(.*\.)?({key})$", module)), None)


def check_pattern_keys(pattern: dict) -> dict:
    """A per-module pattern's keys must be valid regular expressions (the pydantic validator of every pattern)."""
    for key in pattern:
        try:
            re.compile(key)
        except re.error as error:
            raise ValueError(f"key {key!r} is not a valid regular expression ({error})") from None
    return pattern


class AdapterConfig(OneLineErrors):
    """The saved part of an adapter: what it is, never where it runs (that is `RuntimeConfig`).

    Subclasses add a `method: Literal["<name>"] = "<name>"` field and their knobs,
    and set `label` (how reports name the method).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    label: ClassVar[str] = ""
    method: str

    target_modules: TargetModules = Field(
        default_factory=lambda: ["q_proj", "v_proj"],
        description="module names: exact or dotted suffix; a string is a regex (full match); 'all-linear'",
    )
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="dropout on the adapter's input")

    @field_validator("target_modules")
    @classmethod
    def _valid_targets(cls, value: TargetModules) -> TargetModules:
        """Checked here, so a bad pattern fails with the config, before any model is loaded."""
        if not value:
            raise ValueError("name at least one module, e.g. ['q_proj', 'v_proj'] or 'all-linear'")
        if isinstance(value, str):
            target_pattern(value)
        return value

    def for_layer(self, index: int) -> AdapterConfig:
        """The config of the `index`-th adapted layer (methods with seeds give each layer its own)."""
        return self

    def layer_configs(self, targets: list[str]) -> list[AdapterConfig]:
        """The config of each adapted module, by its name in the model (LoRA's per-module ranks override this);
        a setting that names no target is an error here, before any layer is built."""
        return [self.for_layer(index) for index in range(len(targets))]

    def per_module_configs(self, targets: list[str], patterns: dict[str, str]) -> list[AdapterConfig]:
        """Each module's config with per-module overrides applied, peft's way: `patterns` maps a pattern field
        (e.g. 'rank_pattern') to the field it overrides ('r'). A key that names no adapted module is refused (a
        typo would otherwise train a different budget than asked, silently)."""
        for kind in patterns:
            unused = [key for key in getattr(self, kind) if not any(pattern_key([key], name) for name in targets)]
            if unused:
                raise QwthnError(f"{kind} key(s) {', '.join(map(repr, unused))} match no adapted module; the adapted "
                                 f"modules include {', '.join(targets[:4])}; fix the key or drop it")  # fmt: skip
        configs = []
        for index, name in enumerate(targets):
            layer = self.for_layer(index)
            update: dict = {kind: {} for kind in patterns}
            for kind, field in patterns.items():
                key = pattern_key(list(getattr(self, kind)), name)
                if key is not None:
                    update[field] = getattr(self, kind)[key]
            configs.append(layer.model_copy(update=update))
        return configs

    def describe(self) -> str:
        """A short name for reports, e.g. 'LoRA r=4'."""
        return self.label or self.method

    @property
    def runs_circuits(self) -> bool:
        """Whether its layers may need a quantum backend; if not, injection needs no backend plugin."""
        return True


class CircuitAdapterConfig(AdapterConfig):
    """An adapter with a quantum circuit, which runs on a backend, as its exact classical form, or as a control."""

    qnn_form: Literal["circuit", "frozen", "fourier", "mlp", "none"] = Field(
        default="circuit",
        description="'circuit': the QNN on the runtime's backend; 'frozen': the same with its random initial "
        "weights frozen; 'fourier': its exact Fourier series (written by `qwthn dequantize`, or trained from "
        "scratch), no backend; 'mlp': a classical MLP of the same widths and about its parameter count; "
        "'none': the QNN removed (ablation controls)",
    )

    def circuit(self) -> Circuit | None:
        """The circuit each adapted layer runs (None for variants without one)."""
        return None

    @property
    def runs_circuits(self) -> bool:
        return self.qnn_form in ("circuit", "frozen") and self.circuit() is not None

    def form_note(self) -> str:
        """How reports mark a QNN that is not the trainable circuit, e.g. ' (Fourier form)'."""
        if self.circuit() is None:
            return ""
        return FORM_NOTES[self.qnn_form]


FORM_NOTES = {
    "circuit": "",
    "frozen": " (frozen random QNN)",
    "fourier": " (Fourier form)",
    "mlp": " (MLP instead of QNN)",
    "none": " (no QNN)",
}


def _autocast_off(device_type: str) -> AbstractContextManager:
    try:
        return torch.autocast(device_type, enabled=False)
    except RuntimeError:  # a device autocast does not know (meta): there is nothing to turn off
        return nullcontext()


class AdapterLayer(nn.Module):
    """y = base(x) + delta(x); the base layer is frozen and kept as `base_layer`.

    The update runs in float32 whatever the base's dtype, with autocast off, so bf16/fp16
    models (and bf16/fp16 mixed precision) train stable adapters; it is cast back to the base
    output's dtype.
    """

    branches: ClassVar[dict[str, str]] = {}
    """Which branch each child module or direct parameter belongs to, for messages (e.g. NaN guards)."""
    own_branch: ClassVar[str] = "update"
    """What the layer's own arithmetic, combining its branches, is called."""

    def __init__(self, base_layer: nn.Linear, config: AdapterConfig, runtime: Runtime) -> None:
        super().__init__()
        if not isinstance(base_layer, nn.Linear):
            raise TypeError(f"adapters wrap nn.Linear layers, got {type(base_layer).__name__}")
        self.base_layer = base_layer
        self.base_layer.requires_grad_(False)
        self.in_features, self.out_features = base_layer.in_features, base_layer.out_features
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    @abstractmethod
    def delta(self, inputs: torch.Tensor) -> torch.Tensor:
        """The update for float32 `inputs` (already through dropout)."""

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        output = self.base_layer(inputs)
        with _autocast_off(inputs.device.type):  # autocast would run the update's matmuls in bf16/fp16 again
            update = self.delta(self.dropout(inputs.to(torch.float32)))
        return output + update.to(output.dtype)

    def delta_weight(self) -> torch.Tensor | None:
        """The update as a float32 [out, in] matrix when it is a linear map of the input (so it can be merged
        into the base weight), else None: a circuit's update is not linear, and no matrix reproduces it."""
        return None

    def adapter_parameters(self) -> dict[str, nn.Parameter]:
        return {name: param for name, param in self.named_parameters() if not name.startswith("base_layer.")}

    def branch_of(self, name: str) -> str:
        """The branch of a parameter or child module named relative to this layer (e.g. 'down.cores.0')."""
        head = name.split(".", 1)[0]
        return self.branches.get(head, head)
