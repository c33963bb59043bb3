"""run_finetune end to end on a tiny recipe: run directory, metrics, reloadable adapters, early validation."""

from __future__ import annotations

import itertools
import json
import re
from types import SimpleNamespace

import pytest
import torch

from qwthn import LoRAConfig, QWTHNConfig
from qwthn.errors import QwthnError
from qwthn.model.inject import inject_adapter
from qwthn.runtime import Runtime
from qwthn_transformers import load_adapter
from qwthn_transformers.data import encode_example
from qwthn_transformers.embedded import base_model, corpus
from qwthn_transformers.embedded.base_model import BaseModelSpec
from qwthn_transformers.embedded.tokenizer import train_tokenizer
from qwthn_transformers.evaluate import generate_responses
from qwthn_transformers.evaluate_adapter import EvaluateOptions, run_evaluate
from qwthn_transformers.finetune import FinetuneOptions, MethodRecipe, Recipe, _examples, prepare, run_finetune
from qwthn_transformers.loading import load_causal_lm
from qwthn_transformers.train import TrainSettings, example_batches, linear_schedule, train

TINY_SPEC = BaseModelSpec(
    hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
    vocab_size=320, block_size=32, batch_size=4, steps=10, held_out=12, task_train=40,
)  # fmt: skip
TINY = Recipe(
    methods={
        "qwthn": MethodRecipe(QWTHNConfig(n_qubits=2, n_layers=1), steps=4, learning_rate=1e-2, batch_size=8),
        "lora": MethodRecipe(LoRAConfig(r=2), steps=4, learning_rate=1e-2, batch_size=8),
    },
    max_length=64,
    note="test",
    base=TINY_SPEC,
)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def cache(shared_cache, monkeypatch):
    monkeypatch.setenv(base_model.CACHE_ENV, str(shared_cache))
    return shared_cache


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_default_run_builds_one_backend_and_lora_uses_none(cache, tmp_path, monkeypatch):
    """One run, one backend instance, shared by every circuit method; LoRA runs no circuit and gets none."""
    from qwthn_emulator.backend import EmulatorBackend

    built = []
    original = EmulatorBackend.__init__

    def counted(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(EmulatorBackend, "__init__", counted)
    metrics = run_finetune(FinetuneOptions(output=tmp_path / "run"), TINY)
    assert len(built) == 1
    assert metrics["methods"]["qwthn"]["backend_usage"]["calls"] > 0
    assert metrics["methods"]["lora"]["backend_usage"]["calls"] == 0


def test_backend_options_timeout_and_retries_reach_the_runtime(cache, tmp_path):
    options = FinetuneOptions(output=tmp_path / "run", backend_options='{"dtype": "complex128"}', timeout=30.0,
                              retries=1, device="cpu", method="qwthn")  # fmt: skip
    plan = prepare(options, TINY)
    assert plan.runtime.backend_options == {"dtype": "complex128"} and plan.runtime.device == "cpu"
    assert (plan.runtime.timeout, plan.runtime.retries) == (30.0, 1)
    assert plan.backend.options.dtype == "complex128"  # the one instance was built with the options
    metrics = run_finetune(options, TINY)
    assert metrics["methods"]["qwthn"]["runtime"]["timeout"] == 30.0
    assert metrics["methods"]["qwthn"]["runtime"]["backend_options"] == {"dtype": "complex128"}


def test_default_run_writes_adapters_metrics_and_plot(cache, tmp_path):
    output = tmp_path / "run"
    metrics = run_finetune(FinetuneOptions(output=output), TINY)

    assert {p.name for p in output.iterdir()} == {"metrics.json", "loss_curves.png", "qwthn", "lora"}
    for method in ("qwthn", "lora"):
        assert {p.name for p in (output / method).iterdir()} == {"adapter_config.json", "adapter_model.safetensors"}
    assert (output / "loss_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((output / "metrics.json").read_text()) == json.loads(json.dumps(metrics))

    assert set(metrics["accuracy"]) == {"base", "qwthn", "lora"}
    assert metrics["task"] == {"name": "embedded math word problems", "dataset": None, "train": 40, "held_out": 12}
    assert metrics["base_model"]["spec"]["hidden_size"] == 32 and metrics["seed"] == 0
    for method, result in metrics["methods"].items():
        assert 0 < result["trainable_params"] < result["total_params"]
        assert len(result["losses"]) == 4 and result["total"] == 12 and 0 <= result["accuracy"] <= 1
        assert result["adapter_config"]["method"] == method
        assert {"train_seconds", "eval_seconds", "final_loss", "training", "samples", "targets"} <= set(result)
    assert metrics["methods"]["qwthn"]["adapter_config"]["seed"] == 0  # --seed reaches the circuit init


def test_saved_adapters_reproduce_the_reported_predictions(cache, tmp_path):
    metrics = run_finetune(FinetuneOptions(output=tmp_path / "run", seed=3), TINY)
    assert metrics["base_model"]["cached"]
    for method, result in metrics["methods"].items():
        model, tokenizer = load_causal_lm(metrics["base_model"]["path"])
        load_adapter(model, tmp_path / "run" / method)
        prompts = [sample["prompt"] for sample in result["samples"]]
        assert generate_responses(model, tokenizer, prompts, 4) == [s["prediction"] for s in result["samples"]]


def test_same_seed_same_run(cache, tmp_path):
    first = run_finetune(FinetuneOptions(output=tmp_path / "a", method="lora", seed=1), TINY)
    second = run_finetune(FinetuneOptions(output=tmp_path / "b", method="lora", seed=1), TINY)
    other = run_finetune(FinetuneOptions(output=tmp_path / "c", method="lora", seed=2), TINY)
    assert first["methods"]["lora"]["losses"] == second["methods"]["lora"]["losses"]
    assert first["methods"]["lora"]["losses"] != other["methods"]["lora"]["losses"]


def test_single_method_max_steps_and_default_output_dir(cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    metrics = run_finetune(FinetuneOptions(method="lora", max_steps=2), TINY)
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("finetune-") and metrics["output"] == str(run.relative_to(tmp_path))
    assert set(metrics["methods"]) == {"lora"} and set(metrics["accuracy"]) == {"base", "lora"}
    assert len(metrics["methods"]["lora"]["losses"]) == 2 and not (run / "qwthn").exists()


def test_config_file_and_backend_apply_to_their_method(cache, tmp_path):
    config = tmp_path / "qwthn.yaml"
    config.write_text("n_qubits: 3\nn_layers: 1\nseed: 11\n")
    metrics = run_finetune(FinetuneOptions(output=tmp_path / "run", config=config, backend="emulator"), TINY)
    qwthn = metrics["methods"]["qwthn"]["adapter_config"]
    assert (qwthn["n_qubits"], qwthn["seed"]) == (3, 11)
    assert "backend" not in qwthn  # where circuits run is a runtime setting, never saved
    assert metrics["methods"]["qwthn"]["runtime"]["backend"] == "emulator"
    assert metrics["methods"]["lora"]["adapter_config"]["r"] == 2


def test_tracker_counts_one_compile_and_the_backend_calls(cache, tmp_path):
    metrics = run_finetune(FinetuneOptions(output=tmp_path / "run", method="qwthn", max_steps=3), TINY)
    usage = metrics["methods"]["qwthn"]["backend_usage"]
    assert usage["circuits"] == 1  # q_proj and v_proj of the one block share the compiled circuit
    assert usage["calls"] >= 2 * 3 and usage["rows"] > 0 and usage["shots"] == 0
    assert "backend calls" in usage["summary"]


def test_shots_reach_the_runtime(cache, tmp_path):
    metrics = run_finetune(FinetuneOptions(output=tmp_path / "run", method="qwthn", max_steps=2, shots=32), TINY)
    result = metrics["methods"]["qwthn"]
    assert result["runtime"]["shots"] == 32 and result["backend_usage"]["shots"] == 32 * result["backend_usage"]["rows"]


def test_the_authors_architecture_trains_through_finetune(cache, tmp_path):
    metrics = run_finetune(FinetuneOptions(output=tmp_path / "run", method="qtha", max_steps=4), TINY)
    result = metrics["methods"]["qtha"]
    assert result["adapter_config"]["method"] == "qtha" and result["label"] == "qtha r=4 (ABC)"
    assert result["backend_usage"]["calls"] > 0 and (tmp_path / "run" / "qtha" / "adapter_model.safetensors").is_file()
    losses = result["losses"]  # it learns, not only runs: the last two steps' loss below the first two's
    assert len(losses) == 4 and sum(losses[2:]) < sum(losses[:2]), losses


def test_hardware_mode_continues_an_emulator_trained_adapter_forward_only(cache, tmp_path):
    """The authors' chip runs: circuit weights trained on the emulator, then frozen; 1000 shots by default."""
    from safetensors.torch import load_file

    run_finetune(FinetuneOptions(output=tmp_path / "exact", method="qtha", max_steps=3), TINY)
    metrics = run_finetune(
        FinetuneOptions(output=tmp_path / "hw", init_adapter=tmp_path / "exact" / "qtha", forward_only=True,
                        max_steps=3),
        TINY,
    )  # fmt: skip
    result = metrics["methods"]["qtha"]
    assert result["runtime"]["shots"] == 1000 and result["runtime"]["forward_only"]
    assert result["backend_usage"]["shots"] == 1000 * result["backend_usage"]["rows"]
    before = load_file(tmp_path / "exact" / "qtha" / "adapter_model.safetensors")
    after = load_file(tmp_path / "hw" / "qtha" / "adapter_model.safetensors")
    circuit = [key for key in before if key.endswith("qnn.weights")]
    assert circuit and all(torch.equal(before[key], after[key]) for key in circuit)
    assert any(not torch.equal(before[key], after[key]) for key in before if key not in circuit)


def test_init_adapter_must_agree_with_method(cache, tmp_path):
    run_finetune(FinetuneOptions(output=tmp_path / "exact", method="qtha", max_steps=1), TINY)
    with pytest.raises(QwthnError, match="holds a qtha adapter but --method is lora"):
        run_finetune(FinetuneOptions(output=tmp_path / "x", init_adapter=tmp_path / "exact" / "qtha", method="lora"),
                     TINY)


def test_user_model_and_dataset(empty_cache, tmp_path):
    model_dir = tmp_path / "model"
    tokenizer = train_tokenizer(itertools.islice(corpus.base_documents(0, 10), 500), vocab_size=300)
    base_model.build_model(TINY_SPEC, tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    dataset = tmp_path / "data.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": f"{i} + 1 =", "response": str(i + 1)}) + "\n" for i in range(20)))

    options = FinetuneOptions(model=str(model_dir), dataset=dataset, output=tmp_path / "run", max_steps=2)
    metrics = run_finetune(options)
    assert metrics["base_model"] == {"name": str(model_dir)} and metrics["task"]["held_out"] == 2
    assert metrics["task"]["dataset"] == str(dataset) and metrics["task"]["train"] == 18
    assert not empty_cache.exists()  # the embedded model was never built


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (dict(method="dora"), "unknown --method 'dora'"),
        (dict(max_steps=0), "--max-steps must be at least 1"),
        (dict(backend="nope"), "unknown backend 'nope'"),
        (dict(shots=0), "--shots must be at least 1"),
        (dict(model="./no-such-model"), "no-such-model does not exist"),
    ],
)
def test_bad_options_fail_before_any_training(empty_cache, tmp_path, options, fragment):
    with pytest.raises(QwthnError, match=fragment.replace("-", r"\-")):
        run_finetune(FinetuneOptions(output=tmp_path / "run", **options), TINY)
    assert not empty_cache.exists() and not (tmp_path / "run").exists()


def test_bad_files_fail_before_any_training(empty_cache, tmp_path):
    config = tmp_path / "lora.json"
    config.write_text('{"method": "lora", "r": 0}')
    with pytest.raises(QwthnError, match="invalid 'r'"):
        run_finetune(FinetuneOptions(config=config), TINY)
    config.write_text('{"method": "lora"}')
    with pytest.raises(QwthnError, match="is a lora config but --method is qwthn"):
        run_finetune(FinetuneOptions(config=config, method="qwthn"), TINY)
    dataset = tmp_path / "data.jsonl"
    dataset.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "a"}\n')
    with pytest.raises(QwthnError, match="data.jsonl line 2"):
        run_finetune(FinetuneOptions(dataset=dataset), TINY)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(QwthnError, match="not an empty directory"):
        run_finetune(FinetuneOptions(output=tmp_path / "full"), TINY)
    assert not empty_cache.exists()
    torch.manual_seed(0)  # leave the global generator in a known state for later tests


def test_user_dataset_on_the_embedded_model(cache, tmp_path):
    dataset = tmp_path / "data.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": f"Zoë has {i}?", "response": f"{i} ✓"}) + "\n" for i in range(10)))
    metrics = run_finetune(FinetuneOptions(dataset=dataset, output=tmp_path / "run", method="qwthn"), TINY)
    assert metrics["base_model"]["cached"] and metrics["task"]["held_out"] == 1


def test_learning_rate_schedule_warms_up_then_decays_to_zero():
    values = [linear_schedule(step, steps=10, warmup=2) for step in range(11)]
    assert values[:3] == [0.5, 1.0, 1.0] and values[-1] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(values[1:]))


class _Diverged(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, **batch):
        return SimpleNamespace(loss=self.weight * float("nan"))


def test_training_stops_with_a_one_line_error_on_divergence_or_nothing_to_train():
    batches = iter([{}] * 3)
    with pytest.raises(QwthnError, match=r"the loss \(nan\) became non-finite at step 1, first in the base model"):
        train(_Diverged(), batches, TrainSettings(steps=3, learning_rate=1.0), "test")
    with pytest.raises(QwthnError, match="no trainable parameters"):
        train(_Diverged().requires_grad_(False), batches, TrainSettings(steps=3, learning_rate=1.0), "test")


def test_a_method_from_a_plugin_runs_through_finetune_unchanged(cache, tmp_path, install_plugin):
    install_plugin("qwthn-bias", "0.1", "bias", "bias_method_plugin")
    metrics = run_finetune(FinetuneOptions(output=tmp_path / "run", method="bias", max_steps=2), TINY)
    result = metrics["methods"]["bias"]
    assert result["label"] == "Bias" and result["adapter_config"]["method"] == "bias"
    assert result["backend_usage"]["calls"] == 0  # no circuit in this method
    assert (tmp_path / "run" / "bias" / "adapter_model.safetensors").is_file()


def test_evaluate_runs_an_emulator_trained_adapter_on_another_backend(cache, tmp_path, install_plugin):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    metrics = run_finetune(FinetuneOptions(output=tmp_path / "run", method="qwthn", max_steps=3), TINY)
    adapter = tmp_path / "run" / "qwthn"
    saved = (adapter / "adapter_config.json").read_text()
    report = run_evaluate(EvaluateOptions(adapter=adapter, backend="numpy-test", limit=4))
    elsewhere, exact = report["results"]
    assert elsewhere["runtime"]["backend"] == "numpy-test" and exact["runtime"]["backend"] == "emulator"
    assert elsewhere["total"] == exact["total"] == 4
    assert elsewhere["correct"] == exact["correct"]  # both exact: the same predictions
    assert elsewhere["backend_usage"]["calls"] > 0 and report["base_model"] == metrics["base_model"]["path"]
    assert (adapter / "adapter_config.json").read_text() == saved

    sampled = run_evaluate(EvaluateOptions(adapter=adapter, shots=8, seed=1, limit=4))["results"][0]
    assert sampled["label"] == "emulator, 8 shots" and sampled["backend_usage"]["shots"] > 0

    (dry,) = run_evaluate(EvaluateOptions(adapter=adapter, backend="numpy-test", limit=4, dry_run=True))["results"]
    assert dry["label"].startswith("numpy-test, exact (dry run: nothing sent")
    for count in ("calls", "circuits", "rows", "shots"):  # what the real run above sent, counted without sending
        assert dry["backend_usage"][count] == elsewhere["backend_usage"][count], count
    assert dry["correct"] == elsewhere["correct"]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (dict(backend="nope"), "unknown backend 'nope'"),
        (dict(backend_options="{dtype"), "--backend-options is not valid JSON"),
        (dict(backend_options='{"dtype": "complex32"}'), "option 'dtype'"),
        (dict(limit=0), "--limit must be at least 1"),
        (dict(shots=0), "--shots must be at least 1"),
    ],
)
def test_evaluate_refuses_bad_input_before_loading_a_model(tmp_path, options, fragment, monkeypatch):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"method": "lora", "base_model_name_or_path": "x"}))
    monkeypatch.setattr("qwthn_transformers.evaluate_adapter.load_causal_lm", lambda *_: pytest.fail("loaded"))
    with pytest.raises(QwthnError, match=re.escape(fragment)):
        run_evaluate(EvaluateOptions(adapter=adapter, **options))


def test_evaluate_without_an_adapter_directory_says_so(tmp_path):
    with pytest.raises(QwthnError, match="no adapter_config.json in"):
        run_evaluate(EvaluateOptions(adapter=tmp_path / "missing"))


def test_finetune_dry_run_counts_one_step_and_the_whole_run_without_writing(cache, tmp_path, install_plugin):
    install_plugin("qwthn-numpy-test", "0.3", "numpy-test", "numpy_backend")
    options = FinetuneOptions(output=tmp_path / "run", method="qwthn", backend="numpy-test", max_steps=5, dry_run=True)
    report = run_finetune(options, TINY)
    per_step, whole = report["methods"]["qwthn"]["per_step"], report["methods"]["qwthn"]["whole_run"]
    assert not (tmp_path / "run").exists() and report["dry_run"]
    assert whole["rows"] == 5 * per_step["rows"] and per_step["rows"] > 0 and per_step["circuits"] == 1

    # the same step for real: the counts match
    real = FinetuneOptions(output=tmp_path / "real", method="qwthn", backend="numpy-test", max_steps=1)
    metrics = run_finetune(real, TINY)
    training_only = metrics["methods"]["qwthn"]["backend_usage"]["rows"]
    assert training_only > per_step["rows"]  # the real run also evaluated the held-out set
    plan = prepare(FinetuneOptions(output=tmp_path / "unused", method="qwthn", backend="numpy-test"), TINY)
    train_set, _, _ = _examples(plan)
    model, tokenizer = load_causal_lm(metrics["base_model"]["path"])
    torch.manual_seed(real.seed)
    injected = inject_adapter(model, plan.methods["qwthn"].adapter, Runtime.from_config(plan.runtime))
    encoded = [encode_example(tokenizer, example, TINY.max_length) for example in train_set]
    batches = example_batches(encoded, plan.methods["qwthn"].batch_size, tokenizer.pad_token_id, real.seed)
    train(model, batches, TrainSettings(steps=1, learning_rate=1e-2), "real step")
    tracker = injected.runtime.tracker
    assert (tracker.calls, tracker.rows, tracker.shots) == (per_step["calls"], per_step["rows"], per_step["shots"])
