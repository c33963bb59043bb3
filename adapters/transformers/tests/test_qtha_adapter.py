"""The QTHA methods (the authors' architecture and its variants) through injection, training, saving and loading."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_llama, tiny_qwen2

from qwthn import RuntimeConfig, parse_adapter_config
from qwthn.methods.qtha import VARIANTS, QTHALinear
from qwthn.runtime import QuantumLayer
from qwthn_transformers import inject_adapter, load_adapter, save_adapter


def qtha(name: str, **fields):
    return parse_adapter_config({"method": name, "r": 2, "mpo_width": 16, "seed": 0, **fields})


def train(model, steps: int = 8, lr: float = 0.02) -> list[float]:
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 97, (4, 12), generator=generator)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model(tokens, labels=tokens).loss
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("build", [tiny_qwen2, tiny_llama])
def test_every_variant_injects_at_zero_trains_and_reloads_exactly(tmp_path, name, build):
    model = build(seed=1)
    tokens = torch.randint(0, 97, (2, 9), generator=torch.Generator().manual_seed(2))
    before = model(tokens).logits
    report = inject_adapter(model, qtha(name))
    layers = [m for m in model.modules() if isinstance(m, QTHALinear)]
    assert len(layers) == 4 and len(report.targets) == 4
    assert all(layer.architecture == VARIANTS[name] for layer in layers)
    assert hasattr(layers[0], "qnn") == (VARIANTS[name].branch == "qnn")
    assert hasattr(layers[0], "mpo_down") == VARIANTS[name].mpo
    torch.testing.assert_close(model(tokens).logits, before, atol=0, rtol=0)  # the update starts at zero

    losses = train(model)
    assert losses[-1] < losses[0]
    model.eval()
    expected = model(tokens).logits
    assert not torch.equal(expected, before)
    save_adapter(model, tmp_path / "adapter")
    fresh = build(seed=1)
    assert load_adapter(fresh, tmp_path / "adapter") == qtha(name)
    assert torch.equal(fresh.eval()(tokens).logits, expected)


def test_the_qnn_variants_really_use_the_circuit():
    """Gradients reach the circuit weights: the QNN branch is in the computation, not a constant."""
    model = tiny_qwen2(seed=1)
    inject_adapter(model, qtha("qtha"))
    for layer in model.modules():
        if isinstance(layer, QTHALinear):
            torch.nn.init.normal_(layer.mpo_up.cores[-1], std=0.1)  # a non-zero up path
    tokens = torch.randint(0, 97, (2, 9), generator=torch.Generator().manual_seed(2))
    model(tokens, labels=tokens).loss.backward()
    circuits = [m for m in model.modules() if isinstance(m, QuantumLayer)]
    assert len(circuits) == 4 and all(float(c.weights.grad.abs().sum()) > 0 for c in circuits)


def test_forward_only_runtime_freezes_the_circuit_and_trains_the_rest(tmp_path):
    """Hardware mode as the authors ran it: shots, circuit weights frozen, no gradient through the circuit."""
    model = tiny_qwen2(seed=1)
    report = inject_adapter(model, qtha("qtha"), RuntimeConfig(forward_only=True, shots=1000, seed=3))
    circuits = [m for m in model.modules() if isinstance(m, QuantumLayer)]
    frozen = [c.weights.detach().clone() for c in circuits]
    assert all(not c.weights.requires_grad for c in circuits)
    layer = next(m for m in model.modules() if isinstance(m, QTHALinear))
    classical = layer.quantum_weight.weight.detach().clone()
    steps = 4
    losses = train(model, steps=steps)
    assert all(torch.equal(c.weights, w) for c, w in zip(circuits, frozen, strict=True))
    assert not torch.equal(layer.quantum_weight.weight, classical)  # QW still learns from the sampled <Z>
    assert losses[-1] < losses[0]
    tracker = report.runtime.tracker
    assert tracker.calls == steps * len(circuits)  # forward passes only: no parameter-shift jobs
    assert tracker.shots == tracker.rows * 1000
