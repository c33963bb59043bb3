"""Read-outs from the final state: basis probabilities, and <Z_w> as probabilities @ a ±1 sign matrix."""

from __future__ import annotations

import torch

from qwthn.contract.circuit import Readout


def z_signs(n_qubits: int, wires: tuple[int, ...]) -> torch.Tensor:
    """[2^n, len(wires)] with +1 where the wire's bit is 0 and -1 where it is 1 (big-endian)."""
    index = torch.arange(2**n_qubits).unsqueeze(1)
    shifts = torch.tensor([n_qubits - 1 - wire for wire in wires], dtype=torch.long)
    return (1 - 2 * ((index >> shifts) & 1)).to(torch.float64)


def read_out(probs: torch.Tensor, readout: Readout, signs: torch.Tensor) -> torch.Tensor:
    """[rows, n_outputs] from [rows, 2^n] probabilities; `signs` is `z_signs` on the probs' device and dtype."""
    return probs @ signs if readout.kind == "expval_z" else probs
