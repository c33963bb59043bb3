"""Adapter methods: the registry, the shared base classes, and the built-in QWTHN and LoRA."""

from qwthn.methods.base import AdapterConfig, AdapterLayer
from qwthn.methods.loading import load_adapter_config, parse_adapter_config

__all__ = ["AdapterConfig", "AdapterLayer", "load_adapter_config", "parse_adapter_config"]
