"""qwthn: Quantum Weighted Tensor Hybrid Network adapters on pluggable quantum backends."""

from qwthn.backend import Capabilities, QuantumBackend
from qwthn.circuit import Angle, Circuit, Gate, Readout
from qwthn.errors import BackendNotFoundError, CapabilityError, PluginValidationError, QwthnError
from qwthn.hookspecs import hookimpl
from qwthn.registry import get_backend, list_backends, registry

__version__ = "0.1.0"

__all__ = [
    "Angle",
    "BackendNotFoundError",
    "Capabilities",
    "CapabilityError",
    "Circuit",
    "Gate",
    "PluginValidationError",
    "QuantumBackend",
    "QwthnError",
    "Readout",
    "get_backend",
    "hookimpl",
    "list_backends",
    "registry",
]
