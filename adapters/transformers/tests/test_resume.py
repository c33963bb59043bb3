"""`qwthn finetune --resume`: real processes killed with SIGKILL or stopped with Ctrl-C continue to
the same losses as an uninterrupted run; bad resumes are refused in one line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from finetune_runs import tiny_base_and_dataset, wait_for_checkpoint
from safetensors.torch import load_file

from qwthn.errors import QwthnError
from qwthn_transformers.finetune import FinetuneOptions, run_finetune

HERE = Path(__file__).parent
STEPS = 12


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """A tiny base model directory and dataset, and the uninterrupted reference run."""
    root = tmp_path_factory.mktemp("resume")
    model_dir, dataset, env = tiny_base_and_dataset(root)
    args = ["finetune", "--model", str(model_dir), "--dataset", str(dataset), "--method", "lora",
            "--max-steps", str(STEPS), "--checkpoint-every", "3"]  # fmt: skip
    reference = root / "reference"
    done = subprocess.run([sys.executable, "-m", "qwthn", *args, "--output", str(reference)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {"root": root, "env": env, "args": args, "reference": reference}


def _start_slowed(setting: dict, output: Path) -> subprocess.Popen:
    command = [sys.executable, str(HERE / "slowed_cli.py"), "0.4", *setting["args"], "--output", str(output)]
    return subprocess.Popen(command, env=setting["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _resume(setting: dict, output: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "qwthn", "finetune", "--resume", str(output)], env=setting["env"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads((output / "metrics.json").read_text())


def _assert_same_as_reference(setting: dict, output: Path, metrics: dict) -> None:
    reference = json.loads((setting["reference"] / "metrics.json").read_text())
    assert metrics["methods"]["lora"]["losses"] == pytest.approx(reference["methods"]["lora"]["losses"], abs=1e-6)
    assert len(metrics["methods"]["lora"]["losses"]) == STEPS
    ours = load_file(output / "lora" / "adapter_model.safetensors")
    theirs = load_file(setting["reference"] / "lora" / "adapter_model.safetensors")
    assert ours.keys() == theirs.keys() and all(torch.allclose(ours[k], theirs[k], atol=1e-6) for k in ours)
    assert not (output / "state").exists() and not (output / "INCOMPLETE").exists()


@pytest.mark.reliability(
    kind='kill', surface='CLI',
    tried='SIGKILL of a real `qwthn finetune` process mid-run, then `--resume`',
    held='checkpoint whole; resumed losses and adapter equal an uninterrupted run',
)
def test_a_run_killed_with_sigkill_resumes_to_the_same_losses(setting, reliability):
    output = setting["root"] / "killed"
    process = _start_slowed(setting, output)
    checkpoint = output / "state" / "lora.checkpoint.safetensors"
    wait_for_checkpoint(process, checkpoint)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (output / "metrics.json").exists()
    step = json.loads(load_file_metadata(checkpoint))["step"]
    assert 3 <= step < STEPS  # killed mid-run, checkpoint whole

    metrics = _resume(setting, output)
    reliability.answer(f"status {process.returncode} with the checkpoint of step {step} on disk; resumed losses "
                       f"{[round(loss, 4) for loss in metrics['methods']['lora']['losses']]}")  # fmt: skip
    _assert_same_as_reference(setting, output, metrics)


@pytest.mark.reliability(
    kind='kill', surface='CLI',
    tried='SIGINT to a real `qwthn finetune` process mid-run, then `--resume`',
    held='exit 130, resume command printed, INCOMPLETE written; resumed run equals an uninterrupted one',
)
def test_ctrl_c_saves_says_how_to_resume_and_the_resume_matches(setting, reliability):
    output = setting["root"] / "interrupted"
    process = _start_slowed(setting, output)
    wait_for_checkpoint(process, output / "state" / "lora.checkpoint.safetensors")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    reliability.answer(f"exit {process.returncode}; stderr: {stderr}", setting["root"])
    assert process.returncode == 130
    assert f"continue it with: qwthn finetune --resume {output}" in stderr and "Traceback" not in stderr
    assert "resume" in (output / "INCOMPLETE").read_text()

    _assert_same_as_reference(setting, output, _resume(setting, output))


def load_file_metadata(path: Path) -> str:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        return handle.metadata()["qwthn_checkpoint"]


def test_bad_resumes_are_one_line_errors(setting, tmp_path):
    with pytest.raises(QwthnError, match="no such run directory"):
        run_finetune(FinetuneOptions(resume=tmp_path / "nothing"))
    with pytest.raises(QwthnError, match="already finished"):
        run_finetune(FinetuneOptions(resume=setting["reference"]))
    with pytest.raises(QwthnError, match="not a resumable qwthn finetune run"):
        run_finetune(FinetuneOptions(resume=tmp_path))
    with pytest.raises(QwthnError, match="leave out --seed, --max-steps"):
        run_finetune(FinetuneOptions(resume=tmp_path, seed=3, max_steps=2))


@pytest.mark.reliability(
    kind='bad input', surface='Python API',
    tried='--resume after the dataset file changed',
    held='one line: the --dataset file changed since the run started',
)
def test_a_resume_refuses_a_dataset_that_changed(setting, reliability):
    output = setting["root"] / "changed"
    process = _start_slowed(setting, output)
    wait_for_checkpoint(process, output / "state" / "lora.checkpoint.safetensors")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    dataset = Path(setting["args"][setting["args"].index("--dataset") + 1])
    original = dataset.read_bytes()
    try:
        dataset.write_bytes(original + b'{"prompt": "1+1", "response": "2"}\n')
        with pytest.raises(QwthnError, match="changed since the run started") as refused:
            run_finetune(FinetuneOptions(resume=output))
        reliability.answer(f"{type(refused.value).__name__}: {refused.value}", setting["root"])
        assert "\n" not in str(refused.value)
    finally:
        dataset.write_bytes(original)
