"""The method registry checks what a plugin registers by shape (contract protocols), below the methods floor."""

from __future__ import annotations

import pytest

from qwthn.errors import PluginValidationError
from qwthn.method_registry import MethodRegistry
from qwthn.methods.lora import LoRAConfig, LoRALinear
from qwthn.methods.qwthn import QWTHNConfig, QWTHNLinear


def test_qwthns_own_methods_pass_and_a_name_is_taken_once():
    registry = MethodRegistry()
    registry.registrar("core")("qwthn", QWTHNConfig, QWTHNLinear)
    registry.registrar("core")("lora", LoRAConfig, LoRALinear)
    assert registry.names() == ["qwthn", "lora"] and registry.get("lora").layer_class is LoRALinear
    with pytest.raises(PluginValidationError, match="'lora' is already registered by plugin 'core'"):
        registry.registrar("other")("lora", LoRAConfig, LoRALinear)


@pytest.mark.parametrize(
    "config_class, layer_class, message",
    [
        (dict, LoRALinear, "config class must subclass qwthn.methods.AdapterConfig"),
        (LoRAConfig, object, "layer class must subclass qwthn.methods.AdapterLayer"),
        (LoRAConfig(), LoRALinear, "config class must subclass"),  # an instance, not a class
        (QWTHNConfig, LoRALinear, "QWTHNConfig.method must default to 'lora'"),
    ],
)
def test_what_is_not_a_method_is_refused_in_one_line(config_class, layer_class, message):
    with pytest.raises(PluginValidationError, match=message):
        MethodRegistry().registrar("third-party")("lora", config_class, layer_class)
