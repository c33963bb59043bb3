"""Puts adapter layers into a model by target-module name, peft-style.

Matching: a list of names matches a module whose full name equals an entry or
ends with "." + entry ("q_proj" matches "model.layers.0.self_attn.q_proj"); a
single string is a regular expression that must match the full name;
"all-linear" takes every nn.Linear except the output embedding (lm_head).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from qwthn.errors import QwthnError
from qwthn.methods.base import AdapterConfig, AdapterLayer, target_pattern
from qwthn.plugins import host
from qwthn.runtime import Runtime, RuntimeConfig

ALL_LINEAR = "all-linear"
CONFIG_ATTRIBUTE = "qwthn_adapter_config"
RUNTIME_ATTRIBUTE = "qwthn_runtime"
FLAGS_ATTRIBUTE = "_qwthn_requires_grad"


def check_adapter_on_backend(config: AdapterConfig, runtime: RuntimeConfig | Runtime) -> None:
    """The adapter's circuit against the backend's limits (qubits, gates, shots), before any model loads."""
    from qwthn.methods.base import CircuitAdapterConfig
    from qwthn.runtime.executor import check_circuit

    if isinstance(config, CircuitAdapterConfig) and config.runs_circuits:
        shared = runtime if isinstance(runtime, Runtime) else Runtime.from_config(runtime)
        check_circuit(shared.backend, shared.lower(config.circuit()).circuit, shared.shots)


@dataclass(frozen=True)
class InjectionReport:
    """What was wrapped and how many parameters now train."""

    targets: tuple[str, ...]
    trainable_params: int
    total_params: int
    runtime: Runtime

    @property
    def trainable_fraction(self) -> float:
        return self.trainable_params / self.total_params

    def __str__(self) -> str:
        return (
            f"{len(self.targets)} layers adapted; trainable params: {self.trainable_params:,} "
            f"|| all params: {self.total_params:,} || trainable%: {100 * self.trainable_fraction:.4f}"
        )


def _output_embedding(model: nn.Module) -> nn.Module | None:
    getter = getattr(model, "get_output_embeddings", None)
    return getter() if callable(getter) else None


def find_target_modules(model: nn.Module, target_modules: list[str] | str) -> list[str]:
    """Names of the nn.Linear modules the targets select, in model order."""
    linear = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if target_modules == ALL_LINEAR:
        head = _output_embedding(model)
        selected = [name for name, module in linear if module is not head]
    elif isinstance(target_modules, str):
        try:
            pattern = target_pattern(target_modules)
        except ValueError as error:
            raise QwthnError(f"target_modules: {error}") from None
        selected = [name for name, _ in linear if pattern.fullmatch(name)]
    else:
        wanted = set(target_modules)
        selected = [name for name, _ in linear if name in wanted or any(name.endswith("." + t) for t in wanted)]
    if not selected:
        examples = ", ".join(sorted({name.rsplit(".", 1)[-1] for name, _ in linear})[:8]) or "none"
        raise QwthnError(
            f"target_modules {target_modules!r} match no nn.Linear layer; "
            f"this model's linear layers include: {examples}"
        )
    return selected


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total), counting shared tensors once."""
    unique = {id(param): param for param in model.parameters()}.values()
    return sum(p.numel() for p in unique if p.requires_grad), sum(p.numel() for p in unique)


def inject_adapter(
    model: nn.Module, config: AdapterConfig, runtime: RuntimeConfig | Runtime | None = None
) -> InjectionReport:
    """Wrap the target layers in place, freeze everything else, and remember the config on the model.

    All adapted layers share one `Runtime` (built from `runtime`, default: the exact
    emulator): one backend, one compiled circuit, one tracker (`report.runtime.tracker`).
    """
    if not isinstance(config, AdapterConfig):
        raise QwthnError(
            f"inject_adapter takes an adapter config, got {type(config).__name__}; build one with "
            "parse_adapter_config({...}) or e.g. QWTHNConfig(...)"
        )
    if getattr(model, CONFIG_ATTRIBUTE, None) is not None:
        raise QwthnError("this model already carries a qwthn adapter; build or load a fresh base model first")
    layer_class = host.methods.get(config.method).layer_class
    targets = find_target_modules(model, config.target_modules)
    configs = config.layer_configs(targets)  # may refuse (e.g. a rank_pattern key naming no target): before any change
    if isinstance(runtime, Runtime):
        shared = runtime
    elif runtime is None and not config.runs_circuits:
        shared = Runtime.classical()  # LoRA or a dequantized adapter: no backend plugin needed
    else:
        shared = Runtime.from_config(runtime)
    flags = {name: param.requires_grad for name, param in model.named_parameters()}
    model.requires_grad_(False)
    setattr(model, FLAGS_ATTRIBUTE, flags)
    try:
        for name, layer_config in zip(targets, configs, strict=True):
            parent_name, _, child_name = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            layer = layer_class(getattr(parent, child_name), layer_config, shared)
            setattr(parent, child_name, layer)
    except BaseException:
        remove_adapter(model)  # a failure half-way leaves the model as it was
        raise
    setattr(model, CONFIG_ATTRIBUTE, config)
    setattr(model, RUNTIME_ATTRIBUTE, shared)
    trainable, total = count_parameters(model)
    return InjectionReport(tuple(targets), trainable, total, shared)


def remove_adapter(model: nn.Module) -> None:
    """Undo `inject_adapter`: base layers back in place, the model's own trainable flags restored."""
    for name, layer in adapter_layers(model).items():
        parent_name, _, child_name = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child_name, layer.base_layer)
    flags = getattr(model, FLAGS_ATTRIBUTE, {})
    for name, param in model.named_parameters():
        if name in flags:
            param.requires_grad_(flags[name])
    for attribute in (CONFIG_ATTRIBUTE, RUNTIME_ATTRIBUTE, FLAGS_ATTRIBUTE):
        if hasattr(model, attribute):
            delattr(model, attribute)


def adapter_layers(model: nn.Module) -> dict[str, AdapterLayer]:
    return {name: module for name, module in model.named_modules() if isinstance(module, AdapterLayer)}
