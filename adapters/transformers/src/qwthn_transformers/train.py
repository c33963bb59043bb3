"""A plain torch training loop for causal LMs: the embedded pre-training and adapter fine-tuning.

Deliberately small (no Trainer): AdamW over the parameters that require grad, linear warm-up then
linear decay to zero, gradient-norm clipping, a tqdm progress bar, and the per-step loss history
that the run's loss-curve plot and metrics are made from.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from qwthn.errors import QwthnError
from qwthn_transformers.data import collate

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser and schedule; `warmup_fraction` of `steps` ramps the learning rate up linearly."""

    steps: int
    learning_rate: float
    warmup_fraction: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0


@dataclass
class TrainResult:
    losses: list[float]
    seconds: float


def linear_schedule(step: int, steps: int, warmup: int) -> float:
    """Learning-rate multiplier: 0 -> 1 over `warmup` steps, then 1 -> 0 at `steps`."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (steps - step) / max(1, steps - warmup))


def example_batches(
    encoded: Sequence[dict[str, list[int]]], batch_size: int, pad_token_id: int, seed: int
) -> Iterator[Batch]:
    """Endless padded batches drawn from reshuffled epochs, in an order fixed by `seed`."""
    if not encoded:
        raise QwthnError("no training examples; the dataset needs at least one prompt/response pair to train on")
    rng = random.Random(seed)
    order: list[int] = []
    while True:
        if len(order) < batch_size:
            epoch = list(range(len(encoded)))
            rng.shuffle(epoch)
            order.extend(epoch)
        chosen, order = order[:batch_size], order[batch_size:]
        yield collate([encoded[i] for i in chosen], pad_token_id)


def train(model: torch.nn.Module, batches: Iterator[Batch], settings: TrainSettings, description: str) -> TrainResult:
    """Run `settings.steps` optimiser steps of next-token cross-entropy (the model computes it from labels)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise QwthnError("the model has no trainable parameters; check the adapter's target_modules")
    decay = [p for p in parameters if p.ndim >= 2]
    no_decay = [p for p in parameters if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.learning_rate,
    )
    warmup = max(1, round(settings.steps * settings.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: linear_schedule(step, settings.steps, warmup))
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    with tqdm(total=settings.steps, desc=description, unit="step", dynamic_ncols=True) as bar:
        for _ in range(settings.steps):
            loss = model(**next(batches)).loss
            value = loss.item()
            if not math.isfinite(value):
                raise QwthnError(f"{description}: loss became {value}; lower the learning rate or the adapter scale")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            losses.append(value)
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    model.eval()
    return TrainResult(losses=losses, seconds=time.perf_counter() - start)
