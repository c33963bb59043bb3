"""peft's methods as ablation arms: sized to QWTHN's count through their own knobs, trained by the same unit."""

from __future__ import annotations

import dataclasses
import json
import math

import peft
import pytest
import torch
from tiny_models import tiny_qwen2

from qwthn.errors import QwthnError
from qwthn_transformers.ablation.arms import MATCH_TOLERANCE
from qwthn_transformers.ablation.peft_arms import METHODS, apply_peft, peft_arms
from qwthn_transformers.ablation.plan import FAMILIES, expand_arms
from qwthn_transformers.train import PEFT_WRAPPER, TrainSettings, _optimizer
from qwthn_transformers.update_ratio import UpdateRatioMonitor

TARGETS = ["q_proj", "v_proj"]


def counted(adapter: dict) -> int:
    """The adapter's trainable parameters on a fresh model, as peft's own count (print_trainable_parameters)."""
    wrapped = apply_peft(tiny_qwen2(), adapter, steps=100)
    trainable, _ = wrapped.get_nb_trainable_parameters()
    assert trainable == sum(p.numel() for p in wrapped.parameters() if p.requires_grad)  # what the unit records
    return trainable


@pytest.mark.parametrize("budget", [1_500, 6_000, 40_000])
def test_each_method_is_matched_within_5_percent_or_says_by_how_much_it_misses(budget):
    arms, notes = peft_arms(tiny_qwen2(), TARGETS, budget, steps=100)
    assert [arm.name for arm in arms] == list(METHODS) and notes == []
    for arm in arms:
        count = counted(arm.adapter)
        assert f"{count:,} parameters" in arm.question  # the count stated is the model's own
        gap = abs(count - budget) / budget
        if arm.extra["sizing"] == "matched":
            assert gap <= MATCH_TOLERANCE, arm.name
        else:
            assert gap > MATCH_TOLERANCE and arm.extra["size_gap"] in arm.question, arm.name


def test_the_methods_with_a_fine_knob_reach_every_budget_here():
    """Per-module ranks (peft's rank_pattern) and FourierFT's frequencies reach any budget up to the size of the
    weights of the smallest adapted module on every module (2,048 here: FourierFT has no frequencies left beyond)."""
    for budget in (600, 1_500, 2_000):
        arms, _ = peft_arms(tiny_qwen2(), TARGETS, budget, steps=100, names=["dora", "pissa", "fourierft", "vera"])
        assert {arm.name: arm.extra["sizing"] for arm in arms} == dict.fromkeys(["dora", "pissa", "vera", "fourierft"],
                                                                                 "matched")  # fmt: skip


def test_ia3_has_one_size_and_it_is_stated_not_matched():
    (arm,), _ = peft_arms(tiny_qwen2(), TARGETS, 40_000, steps=100, names=["ia3"])
    assert arm.extra["sizing"] == "fixed" and "its only size" in arm.question


def test_a_method_peft_cannot_apply_is_reported_not_dropped_silently(monkeypatch):
    def refuse(settings, steps):
        raise ValueError("Target module Qwen2Attention is not supported")

    from qwthn_transformers.ablation import peft_arms as module

    broken = dataclasses.replace(METHODS["oft"], make=refuse)
    monkeypatch.setattr(module, "PEFT_METHODS", tuple(broken if m.name == "oft" else m for m in module.PEFT_METHODS))
    monkeypatch.setitem(module.METHODS, "oft", broken)
    arms, notes = peft_arms(tiny_qwen2(), TARGETS, 6_000, steps=100, names=["oft", "dora"])
    assert [arm.name for arm in arms] == ["dora"]
    assert notes == ["oft: peft cannot apply it to this model's q_proj, v_proj (Target module Qwen2Attention is not "
                     "supported); not run"]  # fmt: skip


def test_families_expand_to_arm_names_and_unknown_names_are_refused():
    assert expand_arms(["peft"]) == list(METHODS)
    assert expand_arms(["lora-r4", "classical"])[0] == "lora-r4"
    assert "dora" in expand_arms(["classical"]) and "qwthn" not in expand_arms(["classical"])
    assert "qtha" in expand_arms(["quantum"]) and "dora" not in expand_arms(["quantum"])
    assert expand_arms(["quantum-inspired"]) == ["quanta", "quantum-peft"] and "quanta" in FAMILIES["all"]
    assert "qpa" in expand_arms(["quantum"]) and "qpa-classical" in expand_arms(["classical"])
    assert set(expand_arms(["claims"])) <= set(FAMILIES["all"]) and "qtha-dense-qnn" in expand_arms(["claims"])
    assert expand_arms(["all"]) == FAMILIES["all"] and len(set(FAMILIES["all"])) == len(FAMILIES["all"])
    families = "the families: classical, quantum, quantum-inspired, peft, claims, all"
    with pytest.raises(QwthnError, match=f"unknown arm 'dorra'.*{families}"):
        expand_arms(["dorra"])


def test_the_update_ratio_of_a_peft_lora_is_its_update_against_the_frozen_output():
    torch.manual_seed(0)
    model = apply_peft(tiny_qwen2(), {"peft": "dora", "target_modules": ["q_proj"], "r": 2, "lora_alpha": 4.0}, 10)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)  # a nonzero update
    monitor = UpdateRatioMonitor(model)
    assert len(monitor.layers) == 2  # the two q_proj of the tiny model
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    seen = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: seen.update(x=inputs[0], y=output))
    monitor.before_step(0)
    model(input_ids=torch.tensor([[1, 2, 3, 4]]))
    monitor.after_step()
    handle.remove()
    frozen = layer.get_base_layer()(seen["x"])
    expected = float(torch.linalg.vector_norm(seen["y"] - frozen).detach() / torch.linalg.vector_norm(frozen).detach())
    name = next(name for name in monitor.ratios if name.endswith("layers.0.self_attn.q_proj"))
    assert monitor.ratios[name] == [pytest.approx(expected, rel=1e-5)] and expected > 0.01


def test_a_fixed_rate_prefix_finds_its_parameters_inside_peft_s_wrapper():
    head = torch.nn.Parameter(torch.zeros(2, 2))
    adapter = torch.nn.Parameter(torch.zeros(2, 2))
    settings = TrainSettings(steps=10, learning_rate=1e-2, fixed_rates=(("head.", 5e-3),))
    optimizer = _optimizer({PEFT_WRAPPER + "head.weight": head, PEFT_WRAPPER + "encoder.lora_A": adapter}, settings)
    rates = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    assert rates[id(head)] == 5e-3 and rates[id(adapter)] == 1e-2


@pytest.mark.slow
def test_peft_arms_train_score_and_reload_through_the_ablation(tmp_path, tmp_path_factory, monkeypatch):
    """Every peft arm kind (and the quantum-inspired QuanTA) through the smoke ablation: its loss goes down, its
    saved adapter reloads to the same validation loss, AdaLoRA's rank allocator runs, and the report lists each
    with its parameter count."""
    from qwthn_transformers.ablation import plan as planning
    from qwthn_transformers.ablation.attach import restore
    from qwthn_transformers.ablation.protocol import RateSearch
    from qwthn_transformers.ablation.runner import AblationOptions, run_ablation
    from qwthn_transformers.embedded import base_model

    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "ablate-cache"))
    names = ["lora-r4", "dora", "adalora", "oft", "ia3", "fourierft", "vera", "quanta", "quantum-peft", "qpa",
             "qpa-classical"]
    options = AblationOptions(output=tmp_path / "ab", smoke=True, seeds=1, search=RateSearch(3, 2.0, 1),
                              noise_sweep=False, arms=names, steps=12)  # fmt: skip
    report = run_ablation(options)
    plan_ = planning.plan(options)
    planning.add_sized_arms(plan_, names)
    arms = {arm.name: arm for arm in plan_.arms}
    for name in names:
        row = report["summary"][name]
        assert row["test_metric"] is not None, name
        unit = json.loads(planning.result_path(options.output, name, 0, row["learning_rate"]).read_text())
        losses = unit["losses"]
        assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, name  # it trained
        assert unit["max_update_ratio"] > 0, name  # the monitor saw its update
        model, tokenizer = restore(plan_.task, arms[name], 0, planning.unit_dir(options.output, name, 0,
                                                                               row["learning_rate"]) / "adapter")
        assert plan_.task.validation_loss(model, tokenizer) == pytest.approx(unit["validation_loss"], rel=1e-5), name
        if name == "adalora":
            assert isinstance(model, peft.PeftModel) and model.peft_config["default"].rank_pattern  # reallocated
    text = (options.output / "report.md").read_text()
    assert "| dora | DoRA" in text and "matched through r" in text


def test_quanta_axis_lists_hold_the_width_once_and_its_arm_states_the_model_s_own_count():
    from qwthn_transformers.ablation.inspired import axis_lists, inspired_arms, quanta_size

    lists = list(axis_lists(128))
    assert [8, 4, 4] in lists and [2] * 7 in lists and [16, 8, 8, 4] not in lists  # 512: more than twice 128
    assert all(128 <= math.prod(a) < 256 and a == sorted(a, reverse=True) and min(a) >= 2 for a in lists)
    model = tiny_qwen2()
    (arm,) = inspired_arms(model, TARGETS, 2_000, ["quanta"])
    from qwthn.methods.loading import parse_adapter_config
    from qwthn.model.inject import inject_adapter

    count = inject_adapter(tiny_qwen2(), parse_adapter_config(arm.adapter)).trainable_params
    assert count == quanta_size(arm.adapter["axes"], 4) and f"{count:,} parameters" in arm.question
    assert arm.family == "quantum-inspired"


def test_qpa_and_its_twin_differ_only_in_the_qnn_and_state_the_model_s_own_count():
    from qwthn.methods.loading import parse_adapter_config
    from qwthn.model.inject import inject_adapter
    from qwthn_transformers.ablation.inspired import inspired_arms

    qpa, twin = inspired_arms(tiny_qwen2(), TARGETS, 2_000, ["qpa", "qpa-classical"])
    assert {k: v for k, v in qpa.adapter.items() if k != "qnn_form"} == {
        k: v for k, v in twin.adapter.items() if k != "qnn_form"}  # fmt: skip
    assert (qpa.adapter["qnn_form"], twin.adapter["qnn_form"]) == ("circuit", "fourier")
    assert (qpa.family, twin.family) == ("quantum", "classical")
    for arm in (qpa, twin):
        count = inject_adapter(tiny_qwen2(), parse_adapter_config(arm.adapter)).trainable_params
        assert f"{count:,} parameters" in arm.question


def test_quantum_peft_is_sized_through_its_depth():
    from qwthn.methods.loading import parse_adapter_config
    from qwthn.model.inject import inject_adapter
    from qwthn_transformers.ablation.inspired import inspired_arms

    (arm,) = inspired_arms(tiny_qwen2(), TARGETS, 600, ["quantum-peft"])
    count = inject_adapter(tiny_qwen2(), parse_adapter_config(arm.adapter)).trainable_params
    assert arm.extra["sizing"] == "matched" and abs(count - 600) <= 30 and f"{count:,} parameters" in arm.question


@pytest.mark.slow
def test_list_arms_prints_every_arm_with_its_count_and_writes_nothing(tmp_path, tmp_path_factory, monkeypatch):
    import os
    import subprocess
    import sys

    from qwthn_transformers.embedded import base_model

    env = {**os.environ, base_model.CACHE_ENV: str(tmp_path_factory.getbasetemp() / "ablate-cache"),
           "COLUMNS": "250"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "qwthn", "ablate", "--smoke", "--list-arms", "--arms", "all",
                           "--output", str(tmp_path / "never")], capture_output=True, text=True, timeout=600,
                          env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in FAMILIES["all"]:
        assert f"│ {name} " in done.stdout, name
    assert "built from qwthn" in done.stdout  # the derived arms are not counted, they are built
    assert not (tmp_path / "never").exists() and not (tmp_path / "runs").exists()


def test_qpa_is_matched_between_two_width_steps_through_per_module_widths():
    """A budget halfway between two mapping widths on every module: one width everywhere misses it by more than
    5%, so the next width goes on the subset of modules that brings the count nearest (mapping_pattern)."""
    from qwthn.methods.loading import parse_adapter_config
    from qwthn.model.inject import inject_adapter
    from qwthn_transformers.ablation.inspired import inspired_arms

    def count(adapter: dict) -> int:
        return inject_adapter(tiny_qwen2(), parse_adapter_config(adapter)).trainable_params

    base = {"method": "qpa", "target_modules": TARGETS, "seed": 0}
    low, high = count({**base, "mapping": [2]}), count({**base, "mapping": [3]})
    budget = (low + high) // 2
    assert min(abs(low - budget), abs(high - budget)) > 0.05 * budget  # no single width is within 5%
    (arm,) = inspired_arms(tiny_qwen2(), TARGETS, budget, ["qpa"])
    assert arm.adapter["mapping"] == [2] and arm.adapter["mapping_pattern"]
    assert all(widths == [3] for widths in arm.adapter["mapping_pattern"].values())
    stated = count(arm.adapter)
    assert arm.extra["sizing"] == "matched" and abs(stated - budget) <= 0.05 * budget
    assert f"{stated:,} parameters" in arm.question and "+1 on" in arm.question
