"""Executing circuits: the shared runtime, its settings and tracker, and the torch layer on top."""

from qwthn.runtime.config import RuntimeConfig
from qwthn.runtime.executor import PreparedCircuit, Runtime, check_circuit
from qwthn.runtime.quantum_layer import QuantumLayer
from qwthn.runtime.tracker import Tracker

__all__ = ["PreparedCircuit", "QuantumLayer", "Runtime", "RuntimeConfig", "Tracker", "check_circuit"]
