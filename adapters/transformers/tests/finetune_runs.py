"""What the tests that run `qwthn finetune` as real processes share: a tiny cached base model and a
dataset on disk, and waiting for a run's first checkpoint before killing it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from test_finetune import TINY_SPEC

from qwthn_transformers.embedded import base_model, corpus


def tiny_base_and_dataset(root: Path) -> tuple[Path, Path, dict[str, str]]:
    """(model directory, JSONL dataset, environment for subprocesses: the same cache, one thread, no ranks)."""
    env = {**os.environ, base_model.CACHE_ENV: str(root / "cache"), "OMP_NUM_THREADS": "1"}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(name, None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(base_model.CACHE_ENV, env[base_model.CACHE_ENV])
        model_dir, _ = base_model.load_or_pretrain(TINY_SPEC)
    train_set, held_out = corpus.task_split(50, 6)  # slices of unequal token counts: weighting matters on 2 ranks
    dataset = root / "data.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": e.prompt, "response": e.response}) + "\n"
                               for e in train_set + held_out))  # fmt: skip
    return model_dir, dataset, env


def wait_for_checkpoint(process: subprocess.Popen, path: Path, timeout: float = 240) -> None:
    """Until `path` exists; the run must still be going (its stderr is shown if it ended)."""
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
