"""QWTHNLinear and LoRALinear as torch modules: zero start, gradients, fusions, dtypes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qwthn import LoRAConfig, QWTHNConfig
from qwthn.methods.lora import LoRALinear
from qwthn.methods.qwthn import QWTHNLinear
from qwthn.runtime import Runtime, RuntimeConfig


def emulator(**settings) -> Runtime:
    return Runtime.from_config(RuntimeConfig(**settings))

CONFIGS = [
    QWTHNConfig(seed=0),
    QWTHNConfig(seed=0, fusion="linear", readout="probs", n_qubits=3, reupload=True),
    QWTHNConfig(seed=0, fusion="linear", readout="expval_z", entangler="ring", encoding="rx"),
    LoRAConfig(r=4),
]


def _layer(config, base: nn.Linear):
    layer_class = LoRALinear if isinstance(config, LoRAConfig) else QWTHNLinear
    return layer_class(base, config, emulator())


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.method}")
def test_update_is_zero_at_start_then_training_changes_it(config):
    torch.manual_seed(0)
    base = nn.Linear(20, 10)
    layer = _layer(config, base)
    inputs = torch.randn(4, 7, 20)
    torch.testing.assert_close(layer(inputs), base(inputs), atol=0, rtol=0)
    assert not any(p.requires_grad for p in base.parameters())

    target = torch.randn(4, 7, 10)
    trainable = [p for p in layer.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=0.05)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = (layer(inputs) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]
    if isinstance(layer, QWTHNLinear):
        assert layer.qnn.weights.grad is not None and layer.qnn.weights.grad.abs().sum() > 0
        assert all(core.grad.abs().sum() > 0 for core in layer.down.cores)


def test_linear_fusion_with_probabilities_goes_past_rank_n():
    """n + 2^n fused directions: the learned update can have rank above n_qubits."""
    torch.manual_seed(0)
    config = QWTHNConfig(seed=1, n_qubits=2, fusion="linear", readout="probs", bond_dim=8)
    layer = QWTHNLinear(nn.Linear(16, 16), config, emulator())
    assert layer.up.in_features == 2 + 4
    for core in layer.up.cores:
        nn.init.normal_(core)
    inputs = torch.randn(512, 16)
    update = layer.delta(inputs)
    singular = torch.linalg.svdvals(update - update.mean(0))
    assert int((singular > 1e-3 * singular[0]).sum()) > 2


def test_bfloat16_base_keeps_its_dtype():
    base = nn.Linear(12, 6).to(torch.bfloat16)
    layer = QWTHNLinear(base, QWTHNConfig(seed=0), emulator())
    out = layer(torch.randn(2, 12, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_seeded_layers_are_reproducible():
    base = nn.Linear(12, 6)
    first = QWTHNLinear(base, QWTHNConfig(seed=3), emulator())
    second = QWTHNLinear(base, QWTHNConfig(seed=3), emulator())
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_shots_give_a_noisy_forward_and_a_finite_gradient():
    torch.manual_seed(0)
    base = nn.Linear(12, 6)
    exact = QWTHNLinear(base, QWTHNConfig(seed=3), emulator())
    sampled = QWTHNLinear(base, QWTHNConfig(seed=3), emulator(shots=64, seed=1))
    inputs = torch.randn(32, 12)
    z = exact.down(inputs)
    from qwthn.methods.qwthn.layer import encode_angles

    difference = (exact.qnn(encode_angles(z)) - sampled.qnn(encode_angles(z))).abs()
    assert 0 < difference.max() < 1.0
