"""Injection into real transformers architectures, save/load, and Trainer."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from tiny_models import tiny_llama, tiny_qwen2
from transformers import Trainer, TrainingArguments

from qwthn import LoRAConfig, QWTHNConfig, RuntimeConfig, parse_adapter_config
from qwthn.errors import QwthnError
from qwthn.methods.lora import LoRALinear
from qwthn.methods.qwthn import QWTHNLinear
from qwthn_transformers import find_target_modules, inject_adapter, load_adapter, read_adapter_config, save_adapter


def test_target_matching_modes():
    model = tiny_qwen2()
    assert find_target_modules(model, ["q_proj", "v_proj"]) == [
        f"model.layers.{i}.self_attn.{p}" for i in range(2) for p in ("q_proj", "v_proj")
    ]
    assert find_target_modules(model, ["model.layers.1.mlp.up_proj"]) == ["model.layers.1.mlp.up_proj"]
    assert find_target_modules(model, ["mlp.down_proj"]) == [f"model.layers.{i}.mlp.down_proj" for i in range(2)]
    assert find_target_modules(model, r"model\.layers\.0\..*_proj") == [
        f"model.layers.0.{p}" for p in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                        "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
    ]
    all_linear = find_target_modules(model, "all-linear")
    assert len(all_linear) == 14 and "lm_head" not in all_linear


def test_no_match_and_bad_regex_are_one_line_errors():
    with pytest.raises(QwthnError, match="match no nn.Linear layer; .* include: .*q_proj"):
        find_target_modules(tiny_qwen2(), ["query"])
    with pytest.raises(QwthnError, match="regex"):
        find_target_modules(tiny_qwen2(), "(")


@pytest.mark.parametrize("build", [tiny_qwen2, tiny_llama])
@pytest.mark.parametrize("config", [QWTHNConfig(seed=0), LoRAConfig(r=4)], ids=["qwthn", "lora"])
def test_injection_freezes_base_and_starts_from_the_base_logits(build, config):
    model = build()
    tokens = torch.randint(0, 97, (2, 9))
    before = model(tokens).logits
    report = inject_adapter(model, config)
    assert len(report.targets) == 4
    layer_type = QWTHNLinear if config.method == "qwthn" else LoRALinear
    adapted = [m for m in model.modules() if isinstance(m, layer_type)]
    assert len(adapted) == 4
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".base_layer." not in name and "_proj." in name for name in trainable)
    assert report.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    torch.testing.assert_close(model(tokens).logits, before, atol=0, rtol=0)
    with pytest.raises(QwthnError, match="already carries"):
        inject_adapter(model, config)


def _train_a_little(model, steps: int = 5) -> None:
    tokens = torch.randint(0, 97, (4, 12))
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        model(tokens, labels=tokens).loss.backward()
        optimizer.step()


@pytest.mark.parametrize("config", [
    QWTHNConfig(seed=0), QWTHNConfig(seed=0, fusion="linear", readout="probs"), LoRAConfig(r=4),
], ids=["qwthn-weighted", "qwthn-linear-probs", "lora"])
def test_saved_adapter_reloads_onto_a_fresh_base_with_identical_logits(tmp_path, config):
    model = tiny_qwen2(seed=1)
    model.config._name_or_path = "tiny-qwen2-test"
    inject_adapter(model, config)
    _train_a_little(model)
    model.eval()
    tokens = torch.randint(0, 97, (3, 10))
    expected = model(tokens).logits

    save_adapter(model, tmp_path / "adapter")
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors"
    ]
    raw = (tmp_path / "adapter" / "adapter_model.safetensors").read_bytes()
    header_length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + header_length])  # safetensors: a JSON header, raw tensors, no pickle
    assert header and all(".base_layer." not in key for key in header if key != "__metadata__")
    meta = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    kind = meta["peft_type"].lower() if config.method == "lora" else meta["method"]  # LoRA: peft's LoRA format
    assert kind == config.method and meta["base_model_name_or_path"] == "tiny-qwen2-test"

    fresh = tiny_qwen2(seed=1)
    assert not torch.equal(fresh(tokens).logits, expected)
    loaded_config = load_adapter(fresh, tmp_path / "adapter")
    assert loaded_config == config
    assert torch.equal(fresh.eval()(tokens).logits, expected)


def test_loading_onto_the_wrong_base_or_a_broken_dir_fails_clearly(tmp_path):
    model = tiny_qwen2()
    inject_adapter(model, LoRAConfig(r=4))
    save_adapter(model, tmp_path / "adapter")
    with pytest.raises(QwthnError, match="does not fit this model|expects"):
        wider = tiny_llama()
        load_adapter(wider, tmp_path / "adapter")
    with pytest.raises(QwthnError, match="no adapter_config.json"):
        read_adapter_config(tmp_path)
    (tmp_path / "adapter" / "adapter_model.safetensors").write_bytes(b"garbage")
    with pytest.raises(QwthnError, match="not a readable safetensors file"):
        load_adapter(tiny_qwen2(), tmp_path / "adapter")
    with pytest.raises(QwthnError, match="no qwthn adapter to save"):
        save_adapter(tiny_qwen2(), tmp_path / "nothing")


class _TokenDataset(torch.utils.data.Dataset):
    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.rows = torch.randint(0, 97, (16, 12), generator=generator)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.rows[index], "labels": self.rows[index]}


def test_transformers_trainer_trains_only_the_adapter(tmp_path):
    model = tiny_qwen2()
    inject_adapter(model, QWTHNConfig(seed=0))
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    trained = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=6, per_device_train_batch_size=4, learning_rate=2e-2,
        report_to=[], save_strategy="no", logging_steps=1, use_cpu=True, disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=_TokenDataset())
    result = trainer.train()
    assert result.global_step == 6
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 6 and losses[-1] < losses[0]
    current = dict(model.named_parameters())
    assert all(torch.equal(current[n], value) for n, value in frozen.items())
    assert any(not torch.equal(current[n], value) for n, value in trained.items())


def test_an_emulator_trained_adapter_runs_elsewhere_through_a_runtime_config_only(tmp_path, install_plugin):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    model = tiny_qwen2(seed=1)
    config = QWTHNConfig(seed=0, fusion="linear", readout="probs", n_qubits=3)
    inject_adapter(model, config)
    _train_a_little(model, steps=3)
    save_adapter(model, tmp_path / "adapter")
    saved = (tmp_path / "adapter" / "adapter_config.json").read_text()
    assert not {"backend", "backend_options", "shots"} & set(json.loads(saved))
    tokens = torch.randint(0, 97, (2, 6))
    expected = model.eval()(tokens).logits

    elsewhere = tiny_qwen2(seed=1)
    load_adapter(elsewhere, tmp_path / "adapter", RuntimeConfig(backend="numpy-test"))
    runtime = elsewhere.qwthn_runtime
    assert runtime.backend.name == "numpy-test" and runtime.capabilities.qubit_ordering == "little"
    torch.testing.assert_close(elsewhere.eval()(tokens).logits, expected, atol=1e-5, rtol=0)
    assert runtime.tracker.calls == 4 and runtime.tracker.circuits == 1  # four adapted layers, one circuit
    assert (tmp_path / "adapter" / "adapter_config.json").read_text() == saved


def test_a_saved_file_with_runtime_settings_is_refused_with_a_hint(tmp_path):
    model = tiny_qwen2()
    inject_adapter(model, QWTHNConfig(seed=0))
    save_adapter(model, tmp_path / "adapter")
    path = tmp_path / "adapter" / "adapter_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "backend": "qiskit"}))
    with pytest.raises(QwthnError, match="'backend' is a runtime setting, not part of an adapter; pass it in"):
        load_adapter(tiny_qwen2(), tmp_path / "adapter")


def test_all_layers_of_a_model_share_one_runtime_and_one_compiled_circuit():
    model = tiny_qwen2()
    report = inject_adapter(model, QWTHNConfig(seed=0), RuntimeConfig(shots=16, seed=3))
    layers = [module for module in model.modules() if isinstance(module, QWTHNLinear)]
    assert len(layers) == 4 and all(layer.qnn.runtime is report.runtime for layer in layers)
    model(torch.randint(0, 97, (2, 5)))
    assert report.runtime.tracker.circuits == 1 and report.runtime.tracker.calls == 4
    assert report.runtime.tracker.shots == 16 * report.runtime.tracker.rows


def test_a_method_from_a_plugin_injects_saves_and_loads(tmp_path, install_plugin):
    install_plugin("qwthn-bias", "0.1", "bias", "bias_method_plugin")
    config = parse_adapter_config({"method": "bias", "scale": 2.0, "target_modules": ["o_proj"]})
    assert config.describe() == "Bias"
    model = tiny_qwen2(seed=1)
    report = inject_adapter(model, config)
    assert report.trainable_params == 2 * 32
    _train_a_little(model, steps=2)
    save_adapter(model, tmp_path / "adapter")
    tokens = torch.randint(0, 97, (2, 6))
    fresh = tiny_qwen2(seed=1)
    assert load_adapter(fresh, tmp_path / "adapter") == config
    assert torch.equal(fresh.eval()(tokens).logits, model.eval()(tokens).logits)
