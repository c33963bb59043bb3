"""One unit of an ablation: train one (arm, seed, rate) on the task, measure it on validation, write its result.

The one code path of the sequential run and of a Ray worker (cluster.py); the test split is never
touched here.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
from pathlib import Path

import torch
from rich.console import Console

from qwthn.files import write_json_atomically
from qwthn_transformers.ablation.arms import Arm
from qwthn_transformers.ablation.attach import attach, save
from qwthn_transformers.ablation.plan import Plan, result_path, unit_dir
from qwthn_transformers.ablation.protocol import divergence
from qwthn_transformers.train import TrainingDiverged
from qwthn_transformers.update_ratio import UpdateRatioMonitor


class MemoryWatch:
    """Peak resident memory (MiB) above the level at entry, sampled from /proc every 20 ms."""

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> float:
        try:
            pages = int(Path("/proc/self/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            return 0.0
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _poll(self, start: float) -> None:
        while not self._stop.wait(0.02):
            self.peak_mib = max(self.peak_mib, self._rss() - start)

    def __enter__(self) -> MemoryWatch:
        self._thread = threading.Thread(target=self._poll, args=(self._rss(),), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, data)


def train_unit(plan_: Plan, arm: Arm, seed: int, lr: float, console: Console) -> dict:
    """Train one (arm, seed, rate) unit and measure it on the validation split; the test split is not touched."""
    task, directory = plan_.task, unit_dir(plan_.options.output, arm.name, seed, lr)
    if directory.exists():  # a unit interrupted before its result was written: start it afresh
        shutil.rmtree(directory)
    model, tokenizer = task.load(seed)
    torch.manual_seed(seed)
    attached = attach(task, arm, model, seed)
    model = attached.model
    monitor = UpdateRatioMonitor(model, every=max(1, task.steps // 50))
    nonfinite, losses, seconds = None, [], 0.0
    with MemoryWatch() as memory:
        try:
            result = task.fit(model, tokenizer, lr, seed, f"{arm.name} seed {seed} lr {lr:g}", monitor,
                              attached.after_update)
            losses, seconds = result.losses, result.seconds
        except TrainingDiverged as error:
            nonfinite = str(error).split(": ", 1)[-1].split(";")[0]
    diverged = divergence(losses, monitor.max_ratio(), nonfinite)
    validation = task.validation_loss(model, tokenizer) if nonfinite is None else None
    if validation is not None and not math.isfinite(validation):
        diverged, validation = diverged or "validation loss is not finite", None
    if nonfinite is None:
        save(model, arm, directory / "adapter")
        task.save_extra(model, directory / "adapter")
    tail = max(1, len(losses) // 10)
    return {
        "arm": arm.name,
        "seed": seed,
        "learning_rate": lr,
        "label": attached.label,
        "trainable_params": attached.trainable_params,
        "losses": losses,
        "train_loss": sum(losses[-tail:]) / tail if losses else None,
        "validation_loss": validation,
        "diverged": diverged,
        "max_update_ratio": monitor.max_ratio(),
        "update_ratio": monitor.trajectory(),
        "step_seconds": seconds / len(losses) if losses else None,
        "peak_memory_mib": round(memory.peak_mib, 1),
        "backend_usage": attached.usage,
    }


def run_unit(plan_: Plan, arm: Arm, seed: int, lr: float, console: Console) -> dict:
    """Train one unit and write its result; the one code path of the sequential run and of a Ray worker."""
    result = train_unit(plan_, arm, seed, lr, console)
    write_json(result_path(plan_.options.output, arm.name, seed, lr), result)
    return result
