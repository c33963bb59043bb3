"""What a read-out means, once for every backend: <Z_w> from big-endian basis probabilities.

Z_w has eigenvalue +1 on basis states whose bit w is 0 and -1 where it is 1 (wire 0 is the most
significant bit, the core's order), so <Z_w> = probs @ z_signs[:, w]. Backends that compute
probabilities (state vectors, density matrices, sampled counts) read out through these functions
instead of writing their own; the NumPy reference does too.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from qwthn.contract.circuit import Readout


def z_signs(n_qubits: int, wires: Iterable[int]) -> np.ndarray:
    """[2^n, len(wires)] float64: the eigenvalue of Z_w on each basis state (big-endian)."""
    index = np.arange(2**n_qubits, dtype=np.int64)[:, None]
    shifts = np.array([n_qubits - 1 - wire for wire in wires], dtype=np.int64).reshape(1, -1)
    return 1.0 - 2.0 * ((index >> shifts) & 1)


def z_expectations(probs: np.ndarray, n_qubits: int, wires: Iterable[int]) -> np.ndarray:
    """<Z_w> per wire from probabilities [batch, 2^n] (or one row [2^n]) -> [batch, len(wires)] (or [len(wires)])."""
    return np.asarray(probs, dtype=np.float64) @ z_signs(n_qubits, wires)


def read_out(probs: np.ndarray, n_qubits: int, readout: Readout) -> np.ndarray:
    """The circuit's outputs from its basis probabilities: the probabilities themselves, or <Z_w> per read wire."""
    return probs if readout.kind == "probs" else z_expectations(probs, n_qubits, readout.wires)
