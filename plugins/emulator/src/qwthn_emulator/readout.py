"""Read-outs from the final state: basis probabilities, and <Z_w> as probabilities @ a ±1 sign matrix."""

from __future__ import annotations

import torch

from qwthn.contract import readout as contract_readout
from qwthn.contract.circuit import Readout


def z_signs(n_qubits: int, wires: tuple[int, ...]) -> torch.Tensor:
    """The core's sign matrix (`qwthn.contract.readout.z_signs`) as a float64 tensor, for `probs @ signs` in torch."""
    return torch.from_numpy(contract_readout.z_signs(n_qubits, wires))


def read_out(probs: torch.Tensor, readout: Readout, signs: torch.Tensor) -> torch.Tensor:
    """[rows, n_outputs] from [rows, 2^n] probabilities; `signs` is `z_signs` on the probs' device and dtype."""
    return probs @ signs if readout.kind == "expval_z" else probs
