"""The ablation's units as Ray tasks (`qwthn ablate --ray ADDRESS`): same units, same files, same report.

Each task runs `unit.run_unit`, the function the sequential run calls, so training and the atomic
result write are one code path. Workers write into `--output` themselves: a unit finished on the
cluster is on disk even if the driver dies, and a rerun resumes from there. On several machines
`--output` must therefore be a filesystem every node mounts at the same path, and every node needs
the same Python environment (qwthn and its dependencies, same versions: the embedded base model's
cache key includes them). Ray moves a unit's settings and its result with its own serializer
(cloudpickle): connect only to a cluster you trust, as anyone who can submit tasks to it can run code
on it anyway.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING

from rich.console import Console

from qwthn.console import make_console
from qwthn.errors import QwthnError
from qwthn_transformers.ablation.plan import Plan, result_path
from qwthn_transformers.ablation.ray_address import import_ray
from qwthn_transformers.ablation.unit import run_unit

if TYPE_CHECKING:
    from qwthn_transformers.ablation.arms import Arm

WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
"""One thread per unit: a unit asks Ray for one CPU, and oversubscribed BLAS threads only slow a node down."""


def _one_line(error: BaseException) -> str:
    """The root cause of a failed task, on one line (Ray wraps it with the worker's traceback)."""
    cause = getattr(error, "cause", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    text = lines[0] if lines else "no message"
    return text if isinstance(cause, QwthnError) else f"{type(cause).__name__}: {text}"


@contextmanager
def connected(address: str) -> Iterator[ModuleType]:
    """Ray as this process already has it (a caller's own `ray.init`), or connected now and shut down after."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(address=address)
    except Exception as error:  # ConnectionError, ValueError, a missing ray[client]: all one line to the user
        raise QwthnError(f"cannot start or reach Ray at {address!r}: {_one_line(error)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _unit_task(plan_: Plan, arm: Arm, seed: int, lr: float) -> dict:
    """Runs in a Ray worker: the sequential run's own unit function (no second copy of the training)."""
    return run_unit(plan_, arm, seed, lr, make_console())


def _portable(plan_: Plan) -> Plan:
    """The plan as a worker needs it: an absolute output, the data splits in hand, the base model found anew.

    Splits travel with the plan so a worker needs no copy of `--dataset`; the base model path is
    dropped so each node finds (or pre-trains, once) the embedded model in its own cache.
    """
    plan_.task.splits()
    task = dataclasses.replace(plan_.task, _path=None) if hasattr(plan_.task, "_path") else plan_.task
    options = dataclasses.replace(plan_.options, output=plan_.options.output.resolve())
    return dataclasses.replace(plan_, options=options, task=task)


def run_on_ray(plan_: Plan, units: list[tuple[Arm, int, float]], ray: ModuleType, console: Console) -> None:
    """Train `units` as Ray tasks, one CPU each (on `ray`, as `connected` gave it); returns when all are on disk."""
    plan_.task.load()  # here first: a bad --model fails before anything is sent; local workers find the cache
    remote = ray.remote(_unit_task).options(num_cpus=1, runtime_env={"env_vars": WORKER_ENV})
    shipped = ray.put(_portable(plan_))
    waiting = {remote.remote(shipped, arm, seed, lr): (arm, seed, lr) for arm, seed, lr in units}
    cpus = int(ray.cluster_resources().get("CPU", 0))
    console.print(f"Ray: {len(units)} unit(s) sent to {cpus} CPUs", highlight=False)
    failures: list[str] = []
    start = time.perf_counter()
    while waiting:
        (ref,), _ = ray.wait(list(waiting), num_returns=1)
        arm, seed, lr = waiting.pop(ref)
        name = f"{arm.name}, seed {seed}, learning rate {lr:g}"
        done = f"[{len(units) - len(waiting)}/{len(units)}, {time.perf_counter() - start:.0f} s]"
        try:
            result = ray.get(ref)
        except Exception as error:  # the unit's own exception, re-raised by Ray, or a lost worker
            failures.append(f"{name}: {_one_line(error)}")
            console.print(f"{done} {name} failed: {_one_line(error)}", highlight=False)
            continue
        if not result_path(plan_.options.output, arm.name, seed, lr).is_file():
            failures.append(
                f"{name}: finished on a node whose files this machine cannot see (--output must be on a "
                "filesystem every node mounts at the same path)"
            )
            continue
        outcome = f"diverged ({result['diverged']})" if result["diverged"] else (
            f"validation loss {result['validation_loss']:.4f}")  # fmt: skip
        console.print(f"{done} {name}: {outcome}", highlight=False, markup=False)
    if failures:
        raise QwthnError(
            f"{len(failures)} of {len(units)} units failed on Ray ({'; '.join(failures)}); the other "
            f"{len(units) - len(failures)} are saved: rerun the same command to resume"
        )
