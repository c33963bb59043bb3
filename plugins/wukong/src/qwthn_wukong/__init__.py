"""qwthn-wukong: a simulator of Origin Quantum's 72-qubit Wukong chip as a qwthn backend.

Modules load lazily: `plugin` (entry point), `backend` (WukongBackend), `calibration`
(load_calibration), `profile` (ChipProfile, default_profile), `placement`, `native`, `noise_model`.
"""

__version__ = "0.1.0"
