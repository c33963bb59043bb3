"""A Quantum-PEFT-style adapter (Koike-Akino et al., ICLR 2025): an SVD-shaped update whose singular vectors are
columns of circuit unitaries, simulated classically."""

from qwthn.methods.quantum_peft.config import QuantumPEFTConfig
from qwthn.methods.quantum_peft.layer import QuantumPEFTLinear

__all__ = ["QuantumPEFTConfig", "QuantumPEFTLinear"]
