"""QuantumLayer values and gradients (core parameter-shift) equal the emulator's autograd on the adapter circuit."""

from __future__ import annotations

import pytest
import torch

from qwthn import get_backend
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.testing.gradients import assert_gradients_match_emulator
from qwthn_cirq.options import qsim_available

SIMULATORS = {
    "statevector": {},
    "statevector-complex64": {"dtype": "complex64"},
    "density_matrix": {"simulator": "density_matrix"},
    "qsim": {"simulator": "qsim"},  # complex64 only: measured errors ~5e-7
}
TOLERANCE = 1e-5


@pytest.mark.parametrize("readout", ["expval_z", "probs"])
@pytest.mark.parametrize("simulator", list(SIMULATORS))
def test_gradients_match_emulator_autograd(simulator, readout):
    options = SIMULATORS[simulator]
    if simulator == "qsim" and not qsim_available():
        pytest.skip("qsimcirq is not installed (extra qwthn-cirq[qsim])")
    circuit = build_qnn_circuit(3, 2, reupload=True, readout=readout)
    generator = torch.Generator().manual_seed(7)
    inputs = (torch.rand(5, circuit.n_inputs, generator=generator, dtype=torch.float64) * 2 - 1) * 3
    weights = (torch.rand(circuit.n_weights, generator=generator, dtype=torch.float64) * 2 - 1) * 3
    cotangent = torch.randn(5, circuit.n_outputs, generator=generator, dtype=torch.float64)
    backend = get_backend("cirq", **options)
    assert backend.capabilities.gradient == "parameter-shift"
    assert_gradients_match_emulator(backend, circuit, inputs, weights, cotangent, atol=TOLERANCE, smallest=1e-2)
