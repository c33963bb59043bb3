"""The QWTHN method: MPO down-map, quantum circuit, fusion, MPO up-map."""

from qwthn.methods.qwthn.config import QWTHNConfig
from qwthn.methods.qwthn.layer import QWTHNLinear

__all__ = ["QWTHNConfig", "QWTHNLinear"]
