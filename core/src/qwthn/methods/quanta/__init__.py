"""QuanTA (Chen et al., NeurIPS 2024): a quantum-inspired, fully classical, full-rank-capable adapter."""

from qwthn.methods.quanta.config import QuanTAConfig
from qwthn.methods.quanta.layer import QuanTALinear

__all__ = ["QuanTAConfig", "QuanTALinear"]
