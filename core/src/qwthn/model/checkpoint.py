"""Training checkpoints: one safetensors file, replaced atomically, that resumes a run exactly.

It holds the trainable parameters, the optimiser's tensors, the torch RNG state and, as JSON in
the file's metadata, the step (which is also the data position: batches are replayed from their
seed), the loss history, the scheduler and the optimiser's settings. No pickle: a checkpoint can
be opened from an untrusted source without running code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from qwthn.errors import QwthnError
from qwthn.files import write_atomically

CHECKPOINT_NAME = "checkpoint.safetensors"
FORMAT = 1
METADATA_KEY = "qwthn_checkpoint"


@dataclass
class TrainState:
    """Where a training loop stands: steps done, their losses, seconds spent so far."""

    step: int = 0
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Checkpoint:
    """`path` is written every `every` steps (and when training is interrupted)."""

    path: Path
    every: int

    def exists(self) -> bool:
        return self.path.is_file()

    def due(self, step: int, steps: int) -> bool:
        """Every `every` steps, and after the last one (so a crash during evaluation loses no training)."""
        return step % self.every == 0 or step == steps

    def save(self, parameters: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LRScheduler, state: TrainState) -> None:  # fmt: skip
        tensors = {f"param.{name}": value.detach().to("cpu").contiguous().clone() for name, value in parameters.items()}
        optimizer_state = optimizer.state_dict()
        scalars: dict[str, dict[str, object]] = {}
        for index, values in optimizer_state["state"].items():
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimizer.{index}.{key}"] = value.detach().to("cpu").contiguous().clone()
                else:
                    scalars.setdefault(str(index), {})[key] = value
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {
            "format": FORMAT,
            "step": state.step,
            "losses": state.losses,
            "seconds": state.seconds,
            "parameters": list(parameters),
            "param_groups": optimizer_state["param_groups"],
            "optimizer_scalars": scalars,
            "scheduler": {key: value for key, value in scheduler.state_dict().items() if key != "lr_lambdas"},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        metadata = {METADATA_KEY: json.dumps(meta)}
        write_atomically(self.path, lambda temporary: save_file(tensors, temporary, metadata=metadata))

    def restore(self, parameters: dict[str, torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler) -> TrainState:  # fmt: skip
        """Loads everything back in place; a checkpoint of another model or method is refused."""
        tensors, meta = self._read()
        if meta["parameters"] != list(parameters):
            raise QwthnError(
                f"{self.path} was written for other trainable parameters than this run's; resume it with the same "
                "model, method and config, or delete it to start over"
            )
        with torch.no_grad():
            for name, parameter in parameters.items():
                saved = tensors[f"param.{name}"]
                if saved.shape != parameter.shape:
                    raise QwthnError(f"{self.path}: {name} has shape {tuple(saved.shape)}, this run expects "
                                     f"{tuple(parameter.shape)}; resume it with the same model and config")  # fmt: skip
                parameter.copy_(saved)
        optimizer_state: dict[int, dict[str, object]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                optimizer_state.setdefault(int(index), {})[name] = value
        for index, values in meta["optimizer_scalars"].items():
            optimizer_state.setdefault(int(index), {}).update(values)
        optimizer.load_state_dict({"state": optimizer_state, "param_groups": meta["param_groups"]})
        scheduler.load_state_dict({**meta["scheduler"], "lr_lambdas": [None] * len(meta["param_groups"])})
        torch.set_rng_state(tensors["rng.torch"])
        return TrainState(step=meta["step"], losses=list(meta["losses"]), seconds=meta["seconds"])

    def _read(self) -> tuple[dict[str, torch.Tensor], dict]:
        try:
            with safe_open(self.path, framework="pt") as handle:
                metadata = handle.metadata() or {}
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
        except (SafetensorError, OSError) as error:
            raise QwthnError(f"{self.path} is not a readable checkpoint ({error}); delete it to start over") from None
        try:
            meta = json.loads(metadata[METADATA_KEY])
        except (KeyError, ValueError):
            raise QwthnError(f"{self.path} holds no qwthn training state; delete it to start over") from None
        if meta.get("format") != FORMAT:
            raise QwthnError(f"{self.path} is checkpoint format {meta.get('format')}, this qwthn reads {FORMAT}")
        return tensors, meta
