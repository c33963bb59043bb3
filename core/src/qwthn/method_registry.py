"""The method registry: adapter method name -> config class -> layer class (as peft's `register_peft_method`).

Part of the plugin host's floor, below the methods themselves: classes are checked against the
protocols of `qwthn.contract.methods`, so nothing here imports a method.

Adding a method, or an ablation variant, is one `register(name, config_class, layer_class)`
in a plugin's `qwthn_register_methods` hook; config parsing, injection, saving and
`qwthn finetune` all look methods up here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qwthn.contract.methods import MethodConfig, MethodLayer
from qwthn.errors import PluginValidationError, QwthnError


@dataclass(frozen=True)
class MethodSpec:
    """One registered adapter method."""

    name: str
    config_class: type
    layer_class: type
    plugin: str


class MethodRegistry:
    """Registered methods by name; a name registered twice is a plugin error."""

    def __init__(self) -> None:
        self._methods: dict[str, MethodSpec] = {}

    def registrar(self, plugin: str) -> Callable[..., None]:
        def register(name: str, config_class: type, layer_class: type) -> None:
            self.add(MethodSpec(name, config_class, layer_class, plugin))

        return register

    def add(self, spec: MethodSpec) -> None:
        if not (isinstance(spec.config_class, type) and issubclass(spec.config_class, MethodConfig)):
            raise PluginValidationError(f"method '{spec.name}': config class must subclass qwthn.methods.AdapterConfig")
        if not (isinstance(spec.layer_class, type) and issubclass(spec.layer_class, MethodLayer)):
            raise PluginValidationError(f"method '{spec.name}': layer class must subclass qwthn.methods.AdapterLayer")
        method_field = getattr(spec.config_class, "model_fields", {}).get("method")
        if method_field is None or method_field.default != spec.name:
            raise PluginValidationError(
                f"method '{spec.name}': {spec.config_class.__name__}.method must default to '{spec.name}'"
            )
        if spec.name in self._methods:
            raise PluginValidationError(
                f"method '{spec.name}' is already registered by plugin '{self._methods[spec.name].plugin}'"
            )
        self._methods[spec.name] = spec

    def merge(self, other: MethodRegistry) -> None:
        """Take all of `other`'s methods, or none of them when one name is taken."""
        for name in other._methods:
            if name in self._methods:
                raise PluginValidationError(
                    f"method '{name}' is already registered by plugin '{self._methods[name].plugin}'"
                )
        self._methods.update(other._methods)

    def get(self, name: Any) -> MethodSpec:
        spec = self._methods.get(name) if isinstance(name, str) else None
        if spec is None:
            raise QwthnError(f"unknown adapter method {name!r}; the registered methods are: {', '.join(self.names())}")
        return spec

    def names(self) -> list[str]:
        return list(self._methods)
