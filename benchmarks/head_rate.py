"""The MiniLM ablation's classifier-head rate, chosen on the validation split with no adapter.

Every ablation arm on the minilm task trains the same linear head beside its adapter, at one fixed
rate (`tasks.HEAD_LEARNING_RATE`), so that an arm whose adapter needs a low rate is not also handed a
slow head. This script is where that rate comes from: the frozen encoder's mean-pooled features and
the head alone, trained with the task's steps, batch and schedule at a log grid of rates; the rate
with the lowest validation loss is the one to use. The test split is not read.

    python benchmarks/head_rate.py                 # 300 steps per rate (the task's default)
    python benchmarks/head_rate.py --steps 20      # a quick look
"""

from __future__ import annotations

import argparse
import time

import torch

from qwthn_transformers.ablation.tasks import HEAD_LEARNING_RATE, ClassificationTask

RATES = (1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 3e-2, 1e-1)


def validation_loss_at(rate: float, steps: int, seed: int) -> float:
    task = ClassificationTask(steps=steps, head_learning_rate=rate)
    model, tokenizer = task.load(seed)
    model.encoder.requires_grad_(False)  # no adapter: the frozen features and the head alone
    torch.manual_seed(seed)
    task.fit(model, tokenizer, rate, seed, f"head only, lr {rate:g}")
    return task.validation_loss(model, tokenizer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=ClassificationTask().steps)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    for rate in RATES:
        start = time.perf_counter()
        loss = validation_loss_at(rate, args.steps, args.seed)
        rows.append((rate, loss))
        print(f"head rate {rate:g}: validation loss {loss:.4f} ({time.perf_counter() - start:.0f} s)", flush=True)
    best = min(rows, key=lambda row: row[1])
    print(f"\nlowest validation loss at head rate {best[0]:g} ({best[1]:.4f}); "
          f"tasks.HEAD_LEARNING_RATE is {HEAD_LEARNING_RATE:g}")  # fmt: skip


if __name__ == "__main__":
    main()
