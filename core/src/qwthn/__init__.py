"""qwthn: Quantum Weighted Tensor Hybrid Network adapters on pluggable quantum backends.

The public names below are imported on first use, so `import qwthn` (and the
`qwthn` command's start-up) does not pay for torch until something needs it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from qwthn.version import __version__ as __version__

_EXPORTS = {
    "Angle": "qwthn.contract.circuit",
    "Circuit": "qwthn.contract.circuit",
    "Gate": "qwthn.contract.circuit",
    "Readout": "qwthn.contract.circuit",
    "GATES": "qwthn.contract.gates",
    "GateSpec": "qwthn.contract.gates",
    "Capabilities": "qwthn.contract.backend",
    "NoOptions": "qwthn.contract.backend",
    "QuantumBackend": "qwthn.contract.backend",
    "hookimpl": "qwthn.contract.hookspecs",
    "QwthnError": "qwthn.errors",
    "BackendNotFoundError": "qwthn.errors",
    "CapabilityError": "qwthn.errors",
    "OptionsError": "qwthn.errors",
    "PluginValidationError": "qwthn.errors",
    "TransientBackendError": "qwthn.errors",
    "BackendExecutionError": "qwthn.errors",
    "get_backend": "qwthn.plugins",
    "list_backends": "qwthn.plugins",
    "Runtime": "qwthn.runtime.executor",
    "RuntimeConfig": "qwthn.runtime.config",
    "Tracker": "qwthn.runtime.tracker",
    "QuantumLayer": "qwthn.runtime.quantum_layer",
    "QWTHNConfig": "qwthn.methods.qwthn.config",
    "LoRAConfig": "qwthn.methods.lora.config",
    "AdapterConfig": "qwthn.methods.base",
    "parse_adapter_config": "qwthn.methods.loading",
    "load_adapter_config": "qwthn.methods.loading",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qwthn' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
