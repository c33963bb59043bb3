"""QuanTA: the gates' operator against an independent index-by-index construction, its zero start, its size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from qwthn.methods.quanta import QuanTAConfig, QuanTALinear
from qwthn.methods.quanta.config import equal_axes
from qwthn.runtime import Runtime


def layer(in_features: int, out_features: int, **settings) -> QuanTALinear:
    torch.manual_seed(0)
    return QuanTALinear(nn.Linear(in_features, out_features), QuanTAConfig(**settings), Runtime.from_config(None))


def operator(gates: list[np.ndarray], axes: list[int]) -> np.ndarray:
    """The [total, total] matrix of the gates applied in the authors' pair order, built entry by entry: gate
    [o2, o1, i2, i1] on axes (dim1, dim2) maps basis state i to every state that differs from it on those two axes."""
    count, total = len(axes), int(np.prod(axes))
    states = list(itertools.product(*[range(a) for a in axes]))
    index = {state: position for position, state in enumerate(states)}
    result = np.eye(total)
    for gate, (d1, d2) in zip(gates, itertools.combinations(range(-1, -count - 1, -1), 2), strict=True):
        first, second = count + d1, count + d2
        step = np.zeros((total, total))
        for state in states:
            for o2, o1 in itertools.product(range(axes[second]), range(axes[first])):
                target = list(state)
                target[first], target[second] = o1, o2
                step[index[tuple(target)], index[state]] += gate[o2, o1, state[second], state[first]]
        result = step @ result
    return result


def test_the_update_is_the_gates_operator_minus_its_initial_copy():
    quanta = layer(11, 9, axes=[2, 3, 2])  # 12 features: the input is padded by 1, the output truncated to 9
    with torch.no_grad():
        for gate in quanta.gates:
            gate.add_(torch.randn_like(gate) * 0.3)  # "trained": away from the initial copy
    trained = operator([g.detach().double().numpy() for g in quanta.gates], [2, 3, 2])
    initial = operator([g.detach().double().numpy() for g in quanta.initial], [2, 3, 2])
    expected = (trained - initial)[:9, :11]
    np.testing.assert_allclose(quanta.delta_weight().double().numpy(), expected, atol=1e-5)
    x = torch.randn(5, 11)
    torch.testing.assert_close(quanta(x), quanta.base_layer(x) + x @ quanta.delta_weight().T, atol=1e-5, rtol=0)


def test_the_update_starts_at_zero_while_every_gate_is_random_and_only_the_gates_train():
    quanta = layer(16, 16, d=2)
    x = torch.randn(3, 16)
    torch.testing.assert_close(quanta(x), quanta.base_layer(x))
    assert all(float(g.detach().abs().sum()) > 0 for g in quanta.gates)
    trainable = [name for name, p in quanta.adapter_parameters().items() if p.requires_grad]
    assert trainable and all(name.startswith("gates.") for name in trainable)


def test_the_papers_llama_shape_gives_its_reported_size():
    """LLaMA2-7B, q and v, axes (16, 8, 8, 4): the paper's 2.75M trainable parameters over 64 modules."""
    quanta = layer(4096, 4096, axes=[16, 8, 8, 4])
    per_module = sum(p.numel() for p in quanta.gates)
    assert per_module == 43_008 and per_module * 64 == 2_752_512


@pytest.mark.parametrize("width, count, expected", [(128, 4, [4, 4, 4, 4]), (4096, 4, [8, 8, 8, 8]),
                                                    (81, 4, [3, 3, 3, 3]), (576, 3, [9, 9, 9])])  # fmt: skip
def test_equal_axes_are_the_smallest_that_hold_the_width(width, count, expected):
    assert equal_axes(width, count) == expected


def test_axes_too_small_for_the_module_are_refused_in_one_line():
    from qwthn.errors import QwthnError

    with pytest.raises(QwthnError, match=r"QuanTA axes \[2, 2\] hold 4 features, fewer than this module's 8"):
        layer(8, 8, axes=[2, 2])


def test_a_saved_quanta_adapter_reloads_to_identical_outputs(reloads_identically):
    reloads_identically(QuanTAConfig(axes=[4, 2, 2]))
