"""The Quantum-PEFT-style adapter: its circuit unitaries against Kronecker products of the gate matrices."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qwthn.methods.quantum_peft import QuantumPEFTConfig, QuantumPEFTLinear
from qwthn.methods.quantum_peft.layer import unitary_columns
from qwthn.runtime import Runtime


def unitary(angles: np.ndarray) -> np.ndarray:
    """The full 2^n x 2^n matrix: per layer RY on each wire then CNOT(w, w+1), as Kronecker products (wire 0 the
    most significant bit), multiplied in order."""
    layers, n = angles.shape
    eye = np.eye(2)
    result = np.eye(2**n)
    for layer in range(layers):
        for wire in range(n):
            c, s = np.cos(angles[layer, wire] / 2), np.sin(angles[layer, wire] / 2)
            factors = [np.array([[c, -s], [s, c]]) if w == wire else eye for w in range(n)]
            gate = factors[0]
            for factor in factors[1:]:
                gate = np.kron(gate, factor)
            result = gate @ result
        for wire in range(n - 1):
            cnot = np.zeros((2**n, 2**n))
            for index in range(2**n):
                bits = [(index >> (n - 1 - w)) & 1 for w in range(n)]
                if bits[wire]:
                    bits[wire + 1] ^= 1
                cnot[sum(b << (n - 1 - w) for w, b in enumerate(bits)), index] = 1
            result = cnot @ result
    return result


def test_the_columns_are_those_of_the_circuit_unitary():
    angles = torch.rand(3, 4, dtype=torch.float64) * 6 - 3
    expected = unitary(angles.numpy())[:, :5]
    np.testing.assert_allclose(unitary_columns(angles, 5).numpy(), expected, atol=1e-12)


def test_the_update_is_u_diag_s_v_t_and_starts_at_zero():
    torch.manual_seed(0)
    layer = QuantumPEFTLinear(nn.Linear(8, 16), QuantumPEFTConfig(r=3, layers=2, seed=1), Runtime.from_config(None))
    x = torch.randn(4, 8)
    torch.testing.assert_close(layer(x), layer.base_layer(x))  # s = 0
    with torch.no_grad():
        layer.singular.copy_(torch.tensor([1.0, -0.5, 2.0]))
    u, v = layer.factors()
    torch.testing.assert_close(u.T @ u, torch.eye(3), atol=1e-5, rtol=0)  # 16 = 2^4: orthonormal columns
    expected = u @ torch.diag(layer.singular.detach()) @ v.T
    torch.testing.assert_close(layer.delta_weight(), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(layer(x), layer.base_layer(x) + x @ expected.T, atol=1e-5, rtol=0)
    layer(x).sum().backward()
    assert float(layer.left.grad.abs().sum()) > 0 and float(layer.right.grad.abs().sum()) > 0


def test_its_size_grows_with_the_log_of_the_width():
    small = QuantumPEFTLinear(nn.Linear(64, 64), QuantumPEFTConfig(r=4, layers=3), Runtime.from_config(None))
    large = QuantumPEFTLinear(nn.Linear(4096, 4096), QuantumPEFTConfig(r=4, layers=3), Runtime.from_config(None))
    count = lambda layer: sum(p.numel() for p in layer.adapter_parameters().values())  # noqa: E731
    assert (count(small), count(large)) == (3 * 12 + 4, 3 * 24 + 4)


def test_a_saved_quantum_peft_adapter_reloads_to_identical_outputs(reloads_identically):
    reloads_identically(QuantumPEFTConfig())
