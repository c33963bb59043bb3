"""LoRA with per-module ranks and alphas, as peft's rank_pattern/alpha_pattern: matched the same way, typos refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qwthn import LoRAConfig
from qwthn.errors import QwthnError
from qwthn.methods.lora.config import pattern_key
from qwthn.model import inject_adapter
from qwthn.model.inject import CONFIG_ATTRIBUTE, adapter_layers


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.ModuleDict({"q_proj": nn.Linear(8, 8), "v_proj": nn.Linear(8, 4)})
                                    for _ in range(2))  # fmt: skip

    def forward(self, x):
        return sum(layer["v_proj"](layer["q_proj"](x)).sum() for layer in self.layers)


@pytest.mark.parametrize(("key", "module", "matches"), [
    ("q_proj", "layers.0.q_proj", True), ("layers.0.q_proj", "layers.0.q_proj", True),
    (r"layers\.\d\.q_proj", "layers.1.q_proj", True), ("proj", "layers.0.q_proj", False),
    ("0.q_proj", "layers.0.q_proj", True), ("layers.0", "layers.0.q_proj", False),
])  # fmt: skip
def test_keys_match_as_peft_matches_them(key, module, matches):
    from peft.utils.other import get_pattern_key

    assert (pattern_key([key], module) == key) == matches
    assert (get_pattern_key([key], module) == key) == matches  # peft's own reading agrees


def test_each_module_gets_its_rank_and_alpha_and_the_parameter_count_follows():
    config = LoRAConfig(r=2, alpha=4, target_modules=["q_proj", "v_proj"], rank_pattern={r"layers\.1\.q_proj": 5},
                        alpha_pattern={"v_proj": 3})  # fmt: skip
    report = inject_adapter(model := Block(), config)
    layers = adapter_layers(model)
    ranks = {name: layer.lora_A.weight.shape[0] for name, layer in layers.items()}
    assert ranks == {"layers.0.q_proj": 2, "layers.0.v_proj": 2, "layers.1.q_proj": 5, "layers.1.v_proj": 2}
    assert layers["layers.0.v_proj"].scaling == 3 / 2 and layers["layers.1.q_proj"].scaling == 4 / 5
    assert report.trainable_params == 2 * (8 + 8) + 2 * (8 + 4) + 5 * (8 + 8) + 2 * (8 + 4)
    assert getattr(model, CONFIG_ATTRIBUTE) == config  # the model keeps the patterns, not one layer's copy
    model(torch.ones(1, 8)).backward()


@pytest.mark.parametrize("field", ["rank_pattern", "alpha_pattern"])
def test_a_key_that_names_no_adapted_module_is_refused_before_anything_changes(field):
    model = Block()
    config = LoRAConfig(target_modules=["q_proj"], **{field: {"k_proj": 3}})
    with pytest.raises(QwthnError, match=rf"{field} key\(s\) 'k_proj' match no adapted module"):
        inject_adapter(model, config)
    assert not adapter_layers(model) and all(p.requires_grad for p in model.parameters())


def test_bad_pattern_values_are_config_errors():
    with pytest.raises(ValueError, match="must be positive"):
        LoRAConfig(rank_pattern={"q_proj": 0})
    with pytest.raises(ValueError, match="not a valid regular expression"):
        LoRAConfig(rank_pattern={"q_proj(": 2})
