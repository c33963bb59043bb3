"""Origin Quantum pyqpanda3 route: translation, noise model, local CPUQVM runs and (untested) cloud batches.

`translate`: Circuit + bound angles -> QProg (one per row), endianness helpers. `noise`: NoiseSpec ->
pyqpanda3 NoiseModel. `local`: `run_local` (CPUQVM, shots, unseeded) and `exact_local`
(DensityMatrixSimulator). `cloud`: `CloudRunner` (never run against Origin's cloud). pyqpanda3 is
imported lazily, inside the functions that need it.
"""

from qwthn_wukong.origin.cloud import API_KEY_ENV, CloudJob, CloudRunner
from qwthn_wukong.origin.local import exact_local, run_local
from qwthn_wukong.origin.noise import noise_model
from qwthn_wukong.origin.translate import bind_angles, little_to_big, probs_from_dict, to_qprog, to_qprogs

__all__ = [
    "API_KEY_ENV",
    "CloudJob",
    "CloudRunner",
    "bind_angles",
    "exact_local",
    "little_to_big",
    "noise_model",
    "probs_from_dict",
    "run_local",
    "to_qprog",
    "to_qprogs",
]
