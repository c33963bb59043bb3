"""LoRA, through the same injection path as QWTHN, so comparisons change one thing only."""

from qwthn.methods.lora.config import LoRAConfig
from qwthn.methods.lora.layer import LoRALinear

__all__ = ["LoRAConfig", "LoRALinear"]
