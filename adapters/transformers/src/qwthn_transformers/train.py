"""A plain torch training loop for causal LMs: the embedded pre-training and adapter fine-tuning.

Deliberately small (no Trainer): AdamW over the parameters that require grad, linear warm-up then
linear decay to zero, gradient-norm clipping, progress (a bar, or plain lines in logs), the per-step
loss history that the run's loss-curve plot and metrics are made from, atomic checkpoints that
resume exactly, a clean stop on Ctrl-C, and a NaN/Inf guard that says where the values broke.
Launched on several processes (torchrun, accelerate launch) it trains data-parallel: see distributed.py.
"""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NoReturn

import torch

from qwthn.errors import QwthnError
from qwthn.model.checkpoint import Checkpoint, TrainState
from qwthn_transformers.data import collate
from qwthn_transformers.distributed import ONE_PROCESS, Processes, response_tokens
from qwthn_transformers.divergence import BASE_MODEL, first_nonfinite_output, nonfinite_branches
from qwthn_transformers.progress import progress
from qwthn_transformers.update_ratio import UpdateRatioMonitor

Batch = dict[str, torch.Tensor]


MAX_STEPS = 1_000_000
"""Most training steps one run takes. The warm-up is a fraction of the steps, so a huge count (a typo, an extra
zero) keeps the learning rate near zero for as long as anyone would watch: the loss does not move."""


def check_steps(steps: int, flag: str = "--max-steps") -> int:
    """One rule for a training length from any caller: 1..MAX_STEPS, with the reason for the bound."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise QwthnError(f"{flag} must be at least 1, got {steps!r}")
    if steps > MAX_STEPS:
        raise QwthnError(f"{flag} {steps} is more than {MAX_STEPS:,}: the learning-rate warm-up (10% of the steps) "
                         "would keep the rate near zero and the loss unchanged; pass fewer steps")  # fmt: skip
    return steps


@dataclass(frozen=True)
class TrainSettings:
    """Optimiser and schedule; `warmup_fraction` of `steps` ramps the learning rate up linearly."""

    steps: int
    learning_rate: float
    warmup_fraction: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        check_steps(self.steps, "steps")
    fixed_rates: tuple[tuple[str, float], ...] = ()
    """(parameter-name prefix, rate): parameters under the prefix train at that rate, not `learning_rate`.

    The ablation's classifier head uses it, so one head rate serves every arm whatever the adapter's rate.
    """


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
    encoded: Sequence[dict[str, list[int]]], batch_size: int, pad_token_id: int, seed: int,
    processes: Processes = ONE_PROCESS,
) -> Iterator[Batch]:  # fmt: skip
    """Endless padded batches drawn from reshuffled epochs, in an order fixed by `seed`.

    Every rank draws the same global batches and pads only its own slice of each.
    """
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
        if processes.distributed:
            chosen = processes.shard(chosen)
        yield collate([encoded[i] for i in chosen], pad_token_id)


PEFT_WRAPPER = "base_model.model."
"""What peft's `get_peft_model` puts in front of every parameter name of the model it wraps."""


def _optimizer(named: dict[str, torch.nn.Parameter], settings: TrainSettings) -> torch.optim.Optimizer:
    """AdamW: decay on matrices only; each `fixed_rates` prefix its own groups at its own rate (a prefix names
    the module in the model as built, also when peft has wrapped it in `base_model.model.`)."""
    rates = {name: next((rate for prefix, rate in settings.fixed_rates
                         if name.removeprefix(PEFT_WRAPPER).startswith(prefix)),
                        settings.learning_rate) for name in named}  # fmt: skip
    groups = []
    for rate in dict.fromkeys(rates.values()):
        chosen = [named[name] for name in named if rates[name] == rate]
        groups += [
            {"params": [p for p in chosen if p.ndim >= 2], "weight_decay": settings.weight_decay, "lr": rate},
            {"params": [p for p in chosen if p.ndim < 2], "weight_decay": 0.0, "lr": rate},
        ]
    return torch.optim.AdamW(groups, lr=settings.learning_rate)


class TrainingDiverged(QwthnError):
    """A loss, gradient or parameter became NaN or infinite; the message names the step and the branch."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the checkpoint of the last finished step was written."""

    def __init__(self, checkpoint: Checkpoint, step: int) -> None:
        super().__init__(f"checkpoint of step {step} saved in {checkpoint.path}")
        self.checkpoint, self.step = checkpoint, step


class DeferredInterrupt:
    """Turns the first Ctrl-C into a request honoured after the current step; a second one stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: object = None

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __enter__(self) -> DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not signal.SIG_IGN:  # a shell that ignores SIGINT for background jobs keeps doing so
                self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _diverged(description: str, step: int, what: str, where: str, checkpoint: Checkpoint | None, kept: int) -> NoReturn:
    if checkpoint is not None and kept:
        keep = f"the last good checkpoint (step {kept}) is kept in {checkpoint.path}"
    else:
        keep = "no checkpoint was written before it"
    raise TrainingDiverged(
        f"{description}: {what} became non-finite at step {step + 1}, first in {where}; {keep}; "
        "lower the learning rate or the adapter scale"
    )


def _gradient_origin(model: torch.nn.Module, batch: Batch) -> str:
    """A non-finite activation that the loss hid (attention can) explains the gradient; else the branches hit."""
    activation = first_nonfinite_output(model, batch)
    if activation != BASE_MODEL:
        return activation
    branches = nonfinite_branches(model, gradients=True)
    if not branches:
        return BASE_MODEL
    more = f" and {len(branches) - 3} more" if len(branches) > 3 else ""
    return ", ".join(branches[:3]) + more


def train(
    model: torch.nn.Module,
    batches: Iterator[Batch],
    settings: TrainSettings,
    description: str,
    checkpoint: Checkpoint | None = None,
    processes: Processes = ONE_PROCESS,
    monitor: UpdateRatioMonitor | None = None,
    after_update: Callable[[int], None] | None = None,
) -> TrainResult:
    """Run `settings.steps` optimiser steps of next-token cross-entropy (the model computes it from labels).

    With `checkpoint`, training resumes from it when it exists, writes it every `checkpoint.every`
    steps and at the end, and on Ctrl-C finishes the current step, writes it and raises
    `TrainingInterrupted`. A non-finite loss, gradient or parameter stops training with
    `TrainingDiverged`, naming the step and the branch; the checkpoint is never overwritten by a bad state.

    On several `processes`, `batches` yields this rank's slice of each global batch; the loss and
    gradients are the global batch's (distributed.py), every rank restores the same checkpoint and
    only rank 0 writes it. A stop (Ctrl-C, a non-finite value) is seen by every rank at the same step.
    A `monitor` measures the adapters' update against the frozen layers on the steps it chooses;
    `after_update(step)` runs after each optimiser step, gradients still in place (AdaLoRA's rank
    reallocation reads them there).
    """
    named = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if not named:
        raise QwthnError("the model has no trainable parameters; check the adapter's target_modules")
    parameters = list(named.values())
    optimizer = _optimizer(named, settings)
    warmup = max(1, round(settings.steps * settings.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: linear_schedule(step, settings.steps, warmup))
    state = TrainState()
    if checkpoint is not None and processes.agree(checkpoint.exists(), f"{checkpoint.path} is visible to some "
                                                  "processes only; put the run directory on a filesystem every "
                                                  "node shares"):  # fmt: skip
        state = checkpoint.restore(named, optimizer, scheduler)
        for _ in range(state.step):  # the data position: the same batches, in the same order, are skipped
            next(batches)
    processes.broadcast_parameters(parameters)
    kept = state.step
    model.train()
    start = time.perf_counter() - state.seconds
    shown = progress(settings.steps, description, "step", silent=not processes.is_main)  # rank 0 speaks
    with shown as bar, DeferredInterrupt() as interrupt:
        bar.update(state.step)
        for step in range(state.step, settings.steps):
            batch = next(batches)
            if monitor is not None:
                monitor.before_step(step)
            loss = model(**batch).loss
            if monitor is not None:
                monitor.after_step()
            value, stop = loss.item(), False
            if processes.distributed:  # the global mean, so every rank takes the same branch below
                tokens = response_tokens(batch)
                value, total, stop = processes.reduce_step(value, tokens, interrupt.requested)
            if not math.isfinite(value):
                _diverged(description, step, f"the loss ({value})", first_nonfinite_output(model, batch),
                          checkpoint, kept)  # fmt: skip
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if processes.distributed:
                processes.combine_gradients(parameters, tokens, total)
            try:  # raises before scaling, so the diagnosis sees the gradients as they came
                torch.nn.utils.clip_grad_norm_(parameters, settings.max_grad_norm, error_if_nonfinite=True)
            except RuntimeError as error:
                if "non-finite" not in str(error):
                    raise
                _diverged(description, step, "the gradient", _gradient_origin(model, batch), checkpoint, kept)
            optimizer.step()
            scheduler.step()
            if after_update is not None:
                after_update(step)
            state.losses.append(value)
            state.step = step + 1
            bar.update()
            bar.set_postfix(loss=f"{value:.3f}", refresh=False)
            stop = stop if processes.distributed else interrupt.requested
            if checkpoint is not None and (checkpoint.due(state.step, settings.steps) or stop):
                bad = nonfinite_branches(model, gradients=False)
                if bad:
                    _diverged(description, step, "a parameter", ", ".join(bad), checkpoint, kept)
                state.seconds = time.perf_counter() - start
                if processes.is_main:
                    checkpoint.save(named, optimizer, scheduler, state)
                kept = state.step
                if stop:
                    raise TrainingInterrupted(checkpoint, state.step)
    model.eval()
    return TrainResult(losses=state.losses, seconds=time.perf_counter() - start)
