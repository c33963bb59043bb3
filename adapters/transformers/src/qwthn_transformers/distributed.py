"""Data-parallel `qwthn finetune` across the processes `torchrun` or `accelerate launch` starts.

Every rank holds the whole model, QNN circuit weights included, and trains on its own slice of the
same global batch. Gradients are combined by an all-reduce, as DDP does, but weighted by each
slice's response-token count: the model's loss is a mean over its slice's tokens, so a plain
average of the ranks' gradients equals the one-process gradient only when every slice has as many
tokens. Weighted, the result is the gradient of the mean over the whole global batch, whatever the
split, and the loss curve is the one-process curve up to float rounding. Only rank 0 writes files.

With `WORLD_SIZE` unset or 1 nothing is initialised and no collective runs (the training loop calls
the per-step ones only when `distributed`), so a one-process run computes exactly what it did before.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import numpy as np
import torch
from torch import distributed as dist

from qwthn.errors import QwthnError
from qwthn_transformers.data import IGNORE_INDEX

Item = TypeVar("Item")

TIMEOUT = timedelta(hours=2)
"""How long ranks wait for each other: rank 0 alone evaluates held-out data while the others wait."""


@dataclass(frozen=True)
class Processes:
    """This process's place among the ranks of one run; `world_size` 1 is a plain one-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> Processes:
        """The ranks a launcher announced (WORLD_SIZE, RANK, LOCAL_RANK), or one process."""
        try:
            world_size = int(os.environ.get("WORLD_SIZE", "1"))
            rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
        except ValueError:
            raise QwthnError("WORLD_SIZE, RANK and LOCAL_RANK must be integers; start the run with torchrun or "
                             "accelerate launch") from None  # fmt: skip
        if world_size < 1 or not 0 <= rank < world_size:
            raise QwthnError(f"RANK {rank} is not within WORLD_SIZE {world_size}; start with torchrun or accelerate")
        return cls(rank, world_size, local_rank)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that evaluates, prints and writes the run directory."""
        return self.rank == 0

    @contextmanager
    def session(self, device: torch.device | None = None) -> Iterator[Processes]:
        """The process group for the run: gloo for CPU tensors, nccl for CUDA; closed on the way out."""
        if not self.distributed or dist.is_initialized():
            yield self
            return
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=self.rank, world_size=self.world_size, timeout=TIMEOUT)
        try:
            yield self
            dist.barrier()  # rank 0 finishes its writing before any rank reports success
        finally:
            dist.destroy_process_group()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. fills a cache), the others after it: no duplicated work, no race."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def decide(self, choose: Callable[[], str]) -> str:
        """Rank 0's `choose()` for every rank; its QwthnError is raised on every rank, so none waits forever."""
        if not self.distributed:
            return choose()
        failure, text = False, ""
        if self.is_main:
            try:
                text = choose()
            except QwthnError as error:
                failure, text = True, str(error)
        failure, text = self._broadcast(failure, text)
        if failure:
            raise QwthnError(text)
        return text

    def _broadcast(self, flag: bool, text: str) -> tuple[bool, str]:
        data = torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)
        header = torch.tensor([int(flag), len(data)], dtype=torch.long)
        dist.broadcast(header, src=0)
        if not self.is_main:
            data = torch.empty(int(header[1]), dtype=torch.uint8)
        dist.broadcast(data, src=0)
        return bool(header[0]), bytes(data.tolist()).decode("utf-8")

    def agree(self, value: bool, message: str) -> bool:
        """`value` when every rank has the same; otherwise every rank raises `message`."""
        if not self.distributed:
            return value
        votes = torch.tensor([int(value), -int(value)], dtype=torch.long)
        dist.all_reduce(votes, op=dist.ReduceOp.MAX)
        if votes[0] != -votes[1]:  # max(v) != min(v)
            raise QwthnError(message)
        return value

    def shard(self, items: Sequence[Item]) -> list[Item]:
        """This rank's contiguous part of a global batch (sizes differ by at most one)."""
        count = len(items)
        if count < self.world_size:
            raise QwthnError(f"a batch of {count} cannot be split over {self.world_size} processes; use at most "
                             f"{count} processes or a larger batch")  # fmt: skip
        return list(items[self.rank * count // self.world_size : (self.rank + 1) * count // self.world_size])

    def rank_seed(self, seed: int | None) -> int | None:
        """Rank 0 keeps `seed` (so it draws what a one-process run draws); other ranks get independent ones."""
        if seed is None or self.is_main:
            return seed
        return int(np.random.SeedSequence([seed, self.rank]).generate_state(1)[0])

    def reduce_step(self, loss: float, tokens: int, stop: bool) -> tuple[float, float, bool]:
        """(global mean loss, global token count, whether any rank asked to stop) for one step.

        A slice without response tokens (its loss is 0/0) adds nothing, as its examples would in one process.
        """
        totals = torch.tensor([loss * tokens if tokens else 0.0, float(tokens), float(stop)], dtype=torch.float64)
        dist.all_reduce(totals)
        return float(totals[0] / totals[1]), float(totals[1]), bool(totals[2] > 0)

    def combine_gradients(self, parameters: Sequence[torch.nn.Parameter], tokens: int, total: float) -> None:
        """Each gradient becomes the token-weighted mean over ranks: the gradient of the global-batch mean loss."""
        grads = [p.grad if p.grad is not None and tokens else torch.zeros_like(p) for p in parameters]
        dtype = functools.reduce(torch.promote_types, [g.dtype for g in grads])
        flat = torch.cat([g.reshape(-1).to(dtype) for g in grads]) * (tokens / total)
        dist.all_reduce(flat)
        offset = 0
        for parameter, grad in zip(parameters, grads, strict=True):
            size = grad.numel()
            parameter.grad = flat[offset : offset + size].view_as(grad).to(grad.dtype)
            offset += size

    def sum_values(self, values: dict[str, float]) -> dict[str, float]:
        """Each value summed over ranks, in its own type (e.g. backend calls made by all ranks together)."""
        totals = torch.tensor([float(value) for value in values.values()], dtype=torch.float64)
        dist.all_reduce(totals)
        return {key: type(value)(total) for (key, value), total in zip(values.items(), totals.tolist(), strict=True)}

    def broadcast_parameters(self, parameters: Sequence[torch.nn.Parameter]) -> None:
        """Rank 0's values everywhere, so every replica starts from the same weights."""
        if self.distributed:
            with torch.no_grad():
                for parameter in parameters:
                    dist.broadcast(parameter.data, src=0)


ONE_PROCESS = Processes()
"""A plain one-process run: no process group, nothing shared."""


def response_tokens(batch: dict[str, torch.Tensor]) -> int:
    """How many tokens a causal LM's loss averages over: labels after the one-token shift, not ignored."""
    return int((batch["labels"][..., 1:] != IGNORE_INDEX).sum())
