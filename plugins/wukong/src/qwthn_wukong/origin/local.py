"""Run a qwthn circuit batch on pyqpanda3's local simulators (CPUQVM sampling, DensityMatrixSimulator exact).

pyqpanda3 0.5.1 has no shot seed: `CPUQVM.run` results are NOT reproducible; compare them statistically.
One `QProg` is built and run per row (no parametric batching).
"""

from __future__ import annotations

import numpy as np
import torch

from qwthn.contract.circuit import Circuit
from qwthn_wukong.density.channels import confusion_matrix
from qwthn_wukong.noise_spec import NoiseSpec
from qwthn_wukong.origin.noise import noise_model
from qwthn_wukong.origin.translate import little_to_big, probs_from_dict, to_qprogs


def run_local(
    circuit: Circuit,
    inputs: torch.Tensor,
    weights: torch.Tensor,
    noise: NoiseSpec | None = None,
    *,
    shots: int,
) -> torch.Tensor:
    """[B, 2^n] float64 big-endian frequencies from `shots` CPUQVM shots per row (read-out errors included).

    noise=None: noiseless. Not seeded (pyqpanda3 offers no seed).
    """
    from pyqpanda3 import core

    if shots < 1:
        raise ValueError(f"shots must be >= 1, got {shots}")
    n = circuit.n_qubits
    model = noise_model(noise, n) if noise is not None else core.NoiseModel()
    qvm = core.CPUQVM()
    rows = []
    for prog in to_qprogs(circuit, inputs, weights, measure=True):
        qvm.run(prog, shots, model)
        rows.append(probs_from_dict(qvm.result().get_prob_dict(), n))
    return torch.as_tensor(np.stack(rows), dtype=torch.float64)


def exact_local(
    circuit: Circuit,
    inputs: torch.Tensor,
    weights: torch.Tensor,
    noise: NoiseSpec | None = None,
    *,
    readout: bool = True,
) -> torch.Tensor:
    """[B, 2^n] float64 big-endian exact probabilities from pyqpanda3's DensityMatrixSimulator.

    The simulator ignores read-out errors, so with `readout` the per-wire confusion matrices (as the
    engine applies them) are applied here in numpy.
    """
    from pyqpanda3 import core

    n = circuit.n_qubits
    model = noise_model(noise, n, readout=False) if noise is not None else core.NoiseModel()
    rows = []
    for prog in to_qprogs(circuit, inputs, weights, measure=False):
        simulator = core.DensityMatrixSimulator()
        simulator.run(prog, model)
        rows.append(little_to_big(np.real(np.asarray(simulator.state_probs())), n))
    probs = np.stack(rows)
    if readout and noise is not None:
        tensor = probs.reshape(-1, *(2,) * n)
        for wire in range(n):
            matrix = confusion_matrix(noise, wire)
            tensor = np.moveaxis(np.tensordot(tensor, matrix, axes=([wire + 1], [1])), -1, wire + 1)
        probs = tensor.reshape(-1, 2**n)
    return torch.as_tensor(probs, dtype=torch.float64)
