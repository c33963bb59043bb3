"""QTHA: the QWTHN paper authors' own architecture ("ABC", from their QLLM-peft code), and its ablation variants."""

from qwthn.methods.qtha.config import VARIANTS, Architecture, QTHAConfig
from qwthn.methods.qtha.layer import QTHALinear

__all__ = ["VARIANTS", "Architecture", "QTHAConfig", "QTHALinear"]
