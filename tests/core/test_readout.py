"""The shared read-out: <Z_w> from big-endian probabilities, checked against marginals computed another way."""

from __future__ import annotations

import numpy as np
import pytest

from qwthn.contract.circuit import Readout
from qwthn.contract.readout import read_out, z_expectations, z_signs


def marginal_z(probs: np.ndarray, n_qubits: int, wire: int) -> np.ndarray:
    """P(bit w = 0) - P(bit w = 1) by summing the other axes of the [2]*n tensor (wire 0 is axis 0)."""
    tensor = probs.reshape((probs.shape[0],) + (2,) * n_qubits)
    others = tuple(axis + 1 for axis in range(n_qubits) if axis != wire)
    marginal = tensor.sum(axis=others)
    return marginal[:, 0] - marginal[:, 1]


@pytest.mark.parametrize("n_qubits", [1, 2, 3, 5])
def test_z_expectations_equal_the_marginals_on_every_wire(n_qubits):
    probs = np.random.default_rng(n_qubits).dirichlet(np.ones(2**n_qubits), size=4)
    wires = tuple(reversed(range(n_qubits)))  # any order the read-out asks for
    expected = np.stack([marginal_z(probs, n_qubits, wire) for wire in wires], axis=1)
    np.testing.assert_allclose(z_expectations(probs, n_qubits, wires), expected, atol=1e-12)


def test_big_endian_basis_states_and_both_read_outs():
    assert z_signs(2, (0, 1)).tolist() == [[1, 1], [1, -1], [-1, 1], [-1, -1]]  # |00>, |01>, |10>, |11>
    probs = np.array([[0.0, 0.0, 1.0, 0.0]])  # |10>: wire 0 is 1, wire 1 is 0
    assert read_out(probs, 2, Readout("expval_z", (0, 1))).tolist() == [[-1.0, 1.0]]
    assert read_out(probs, 2, Readout("probs", ())) is probs
    assert z_expectations(probs[0], 2, (1,)).tolist() == [1.0]  # one row in, one row out
