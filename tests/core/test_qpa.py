"""The QPA-style adapter against an independent NumPy statevector and mapping, its controls, save/reload."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from qwthn.methods.qpa import QPAConfig, QPALinear
from qwthn.runtime import Runtime


def layer(**settings) -> QPALinear:
    torch.manual_seed(0)
    return QPALinear(nn.Linear(12, 6), QPAConfig(seed=3, **settings), Runtime.from_config(None))


def probabilities(angles: np.ndarray, n: int, depth: int) -> np.ndarray:
    """RY(angle) on each wire, then CNOT(w, w+1) for w in order, `depth` times; |amplitude|^2, big-endian."""
    state = np.zeros(2**n)
    state[0] = 1
    for block in range(depth):
        for wire in range(n):
            theta = angles[block * n + wire]
            ry = np.array([[np.cos(theta / 2), -np.sin(theta / 2)], [np.sin(theta / 2), np.cos(theta / 2)]])
            state = np.moveaxis(np.tensordot(ry, np.moveaxis(state.reshape([2] * n), wire, 0), 1), 0, wire).ravel()
        for wire in range(n - 1):
            tensor = state.reshape([2] * n).copy()
            index = [slice(None)] * n
            index[wire] = 1
            # control `wire` set: flip the target wire + 1, which is axis `wire` once the control's axis is indexed
            tensor[tuple(index)] = np.flip(tensor[tuple(index)], axis=wire)
            state = tensor.ravel()
    return state**2


def test_the_generated_update_matches_an_independent_statevector_and_mapping():
    qpa = layer(r=2, n_qubits=3, depth=2, mapping=[5], zero_start=False)  # QPA's own: the update as generated
    n, rows = 3, 8
    p = probabilities(qpa.qnn.weights.detach().double().numpy(), n, 2)
    np.testing.assert_allclose(qpa.qnn(torch.zeros(1, 0)).detach().double().numpy().ravel(), p, atol=1e-6)
    post = (0.6 * np.tanh(0.1 * 2 ** (n - 1) * p)) ** 0.15
    post -= post.mean()
    bits = np.array([[1 if (k >> (n - 1 - j)) & 1 else -1 for j in range(n)] for k in range(rows)], dtype=float)
    values = np.concatenate([bits, post[:, None]], axis=1)
    for linear in qpa.mapping:  # linear layers, no activation, as QPA's mapping model
        values = values @ linear.weight.detach().double().numpy().T + linear.bias.detach().double().numpy()
    values = values.ravel()[: 6 * 2 + 2 * 12]
    values -= values.mean()
    a, b = values[:12].reshape(6, 2), values[12:].reshape(2, 12)
    np.testing.assert_allclose(qpa.delta_weight().double().numpy(), a @ b * 2.0, atol=1e-5)  # alpha / r = 2
    x = torch.randn(4, 12)
    torch.testing.assert_close(qpa(x), qpa.base_layer(x) + x @ qpa.delta_weight().T, atol=1e-5, rtol=0)


def test_with_zero_start_the_update_starts_at_zero_and_then_moves():
    qpa = layer()
    x = torch.randn(3, 12)
    torch.testing.assert_close(qpa(x), qpa.base_layer(x))
    assert float(layer(zero_start=False).delta_weight().abs().max()) > 1e-3  # QPA's own start is not zero
    with torch.no_grad():
        qpa.qnn.weights.add_(0.5)
    assert float(qpa.delta_weight().abs().max()) > 1e-4


def test_gradients_reach_the_circuit_and_the_mapping():
    qpa = layer()
    qpa(torch.randn(3, 12)).square().sum().backward()
    assert float(qpa.qnn.weights.grad.abs().sum()) > 0
    assert all(float(p.grad.abs().sum()) > 0 for p in qpa.mapping.parameters())


@pytest.mark.parametrize("form", ["frozen", "fourier", "none"])
def test_the_controls_build_and_run(form):
    qpa = layer(qnn_form=form)
    out = qpa(torch.randn(2, 12))
    assert torch.isfinite(out).all()
    assert (qpa.qnn is None) == (form == "none")


def test_an_mlp_twin_is_refused():
    from qwthn.errors import QwthnError

    with pytest.raises((QwthnError, ValueError), match="qnn_form"):
        QPAConfig(qnn_form="mlp")


def test_a_saved_qpa_adapter_reloads_to_identical_outputs(reloads_identically):
    reloads_identically(QPAConfig(n_qubits=3, mapping=[4]))
