"""Vendor backends through qwthn against the same SDK called by hand: overhead and batching gain.

For each case in benchmarks/backend_cases/ (one per SDK) and n qubits, the adapter's circuit
(`QWTHNConfig(n_qubits=n).circuit()`: RY encoding, 2 layers of RZ/RY, a CZ chain) on a batch of
B rows, timed three ways in one process:

- qwthn: a QuantumLayer on a Runtime over the plugin, as an adapter runs it;
- hand, batched: the circuit written by hand in the SDK, all rows in the SDK's best batched call;
- hand, loop: the same, one SDK execution per row (the naive way).

"forward" evaluates the B rows. "forward + gradient" adds d(sum of outputs)/d(inputs, weights):
qwthn uses the plugin's declared gradient (the core's parameter-shift, or the device's adjoint);
by hand, the case's own `hand_gradient` when it has one, else every parameter-shifted copy of the
batch in one batched call (the loop runs the same rows one by one; with more than LOOP_ROWS rows it
is timed on LOOP_ROWS of them and scaled linearly, which the table says).

Both sides are checked to agree before anything is timed. Targets: qwthn within 15% of the hand
batched call (overhead <= 1.15) and at least 10x faster than the loop.

    python benchmarks/backends.py                      # n = 4 and 8, B = 256, every installed case
    python benchmarks/backends.py --only qiskit,cirq   # some cases
    python benchmarks/backends.py --smoke              # tiny sizes (CI)
    python benchmarks/backends.py --markdown out.md
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import pkgutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qwthn import QWTHNConfig, get_backend
from qwthn.errors import QwthnError
from qwthn.runtime import QuantumLayer, Runtime

N_LAYERS = QWTHNConfig().n_layers
TARGET_OVERHEAD = 1.15
TARGET_VS_LOOP = 10.0
LOOP_ROWS = 256
SHIFT = math.pi / 2


def cases() -> dict[str, ModuleType]:
    import backend_cases

    found = {}
    for info in pkgutil.iter_modules(backend_cases.__path__):
        try:
            found[info.name] = importlib.import_module(f"backend_cases.{info.name}")
        except ImportError as error:  # its SDK is not installed here
            print(f"skipping case {info.name}: {error}")
    return found


def median_seconds(step: Callable[[], object], warmup: Callable[[], object], repeats: int, budget: float) -> float:
    """Median of up to `repeats` timed runs (at least one; fewer once `budget` seconds are spent).

    `warmup` runs the same work on two rows first, so compiling and caching are not timed and a
    slow cell is not run in full an extra time.
    """
    warmup()
    times: list[float] = []
    while len(times) < repeats and sum(times) <= budget:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def shifted_rows(inputs: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The batch, then every input and weight shifted by +-pi/2 (each used once by the adapter's circuit)."""
    batch, n_in = inputs.shape
    per_row = np.broadcast_to(weights, (batch, weights.shape[-1]))
    rows_in, rows_w = [inputs], [per_row]
    for slot in range(n_in + weights.shape[-1]):
        for sign in (1.0, -1.0):
            shifted_in, shifted_w = inputs.copy(), per_row.copy()
            if slot < n_in:
                shifted_in[:, slot] += sign * SHIFT
            else:
                shifted_w[:, slot - n_in] += sign * SHIFT
            rows_in.append(shifted_in)
            rows_w.append(shifted_w)
    return np.concatenate(rows_in), np.concatenate(rows_w)


def measure(
    case: ModuleType, n_qubits: int, batch: int, gradient_batch: int, repeats: int, budget: float
) -> dict[str, float | str]:
    circuit = QWTHNConfig(n_qubits=n_qubits, n_layers=N_LAYERS).circuit()
    rng = np.random.default_rng(n_qubits)
    inputs = rng.uniform(-math.pi, math.pi, (batch, n_qubits))
    weights = rng.uniform(-math.pi, math.pi, circuit.n_weights)
    per_row = np.broadcast_to(weights, (batch, circuit.n_weights)).copy()

    layer = QuantumLayer(circuit, Runtime(get_backend(case.BACKEND, **case.OPTIONS))).double()
    with torch.no_grad():
        layer.weights.copy_(torch.from_numpy(weights))
    x = torch.from_numpy(inputs)

    ours = layer(x).detach().numpy()
    theirs = case.hand_batched(n_qubits, N_LAYERS, inputs, per_row)
    error = float(np.abs(ours - theirs).max())
    if error > 1e-5:
        raise QwthnError(f"{case.BACKEND}: qwthn and the hand-written SDK call disagree by {error:.2e} at n={n_qubits}")

    def ours_forward(rows: int) -> Callable[[], None]:
        def step() -> None:
            with torch.no_grad():
                layer(x[:rows])

        return step

    def ours_gradient(rows: int) -> Callable[[], None]:
        def step() -> None:
            leaf = x[:rows].clone().requires_grad_()
            layer.zero_grad()
            layer(leaf).sum().backward()

        return step

    hand_gradient = getattr(case, "hand_gradient", None)

    def hand_forward_gradient(rows: int) -> Callable[[], None]:
        rows_in, rows_w = shifted_rows(inputs[:rows], weights)

        def step() -> None:
            if hand_gradient is not None:
                hand_gradient(n_qubits, N_LAYERS, inputs[:rows], weights)
            else:
                case.hand_batched(n_qubits, N_LAYERS, rows_in, rows_w)

        return step

    def hand(function: Callable, rows_in: np.ndarray, rows_w: np.ndarray) -> Callable[[], None]:
        return lambda: function(n_qubits, N_LAYERS, rows_in, rows_w)

    grad_in, grad_w = shifted_rows(inputs[:gradient_batch], weights)
    loop_rows = min(len(grad_in), LOOP_ROWS)
    scale = len(grad_in) / loop_rows
    warm_in, warm_w = inputs[:2], per_row[:2]

    result: dict[str, float | str] = {"case": case.BACKEND, "n": n_qubits, "batch": batch,
                                      "gradient_batch": gradient_batch, "max_error": error}  # fmt: skip
    result["ours_forward"] = median_seconds(ours_forward(batch), ours_forward(2), repeats, budget)
    result["hand_forward"] = median_seconds(hand(case.hand_batched, inputs, per_row),
                                            hand(case.hand_batched, warm_in, warm_w), repeats, budget)  # fmt: skip
    result["loop_forward"] = median_seconds(hand(case.hand_loop, inputs, per_row),
                                            hand(case.hand_loop, warm_in, warm_w), 1, budget)  # fmt: skip
    result["ours_gradient"] = median_seconds(ours_gradient(gradient_batch), ours_gradient(2), repeats, budget)
    result["hand_gradient"] = median_seconds(hand_forward_gradient(gradient_batch), hand_forward_gradient(2),
                                             repeats, budget)  # fmt: skip
    result["loop_gradient"] = scale * median_seconds(hand(case.hand_loop, grad_in[:loop_rows], grad_w[:loop_rows]),
                                                     hand(case.hand_loop, warm_in, warm_w), 1, budget)  # fmt: skip
    result["gradient_hand_route"] = "own gradient" if hand_gradient is not None else "shifted rows, one call"
    result["loop_note"] = f"{loop_rows} of {len(grad_in)} rows, scaled" if scale > 1 else "all rows"
    return result


def rows_of(result: dict) -> list[str]:
    cells = []
    for kind in ("forward", "gradient"):
        ours, hand, loop = (result[f"{side}_{kind}"] for side in ("ours", "hand", "loop"))
        overhead, speedup = ours / hand, loop / ours
        rows = result["batch"] if kind == "forward" else result["gradient_batch"]
        label = f"forward, B={rows}" if kind == "forward" else f"forward + gradient, B={rows}"
        cells.append(
            f"| {result['case']} | {result['n']} | {label} | {ours * 1e3:.1f} ms | {hand * 1e3:.1f} ms | "
            f"{loop * 1e3:.0f} ms | {overhead:.2f}{' ✗' if overhead > TARGET_OVERHEAD else ''} | "
            f"{speedup:.1f}x{' ✗' if speedup < TARGET_VS_LOOP else ''} |"
        )
    return cells


HEADER = [
    "| backend | n | work | qwthn | hand, batched | hand, loop | qwthn / batched | loop / qwthn |",
    "|---|---|---|---|---|---|---|---|",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="n=2, batch 8: finishes in seconds (CI)")
    parser.add_argument("--only", help="comma-separated case names (default: all installed)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--gradient-batch", type=int, help="rows of the forward + gradient cells (default: --batch)")
    parser.add_argument("--qubits", default="4,8", help="comma-separated qubit counts")
    parser.add_argument("--markdown", metavar="PATH", help="write the table and notes as markdown to PATH")
    args = parser.parse_args()
    qubits = [2] if args.smoke else [int(n) for n in args.qubits.split(",")]
    batch, repeats, budget = (8, 1, 1.0) if args.smoke else (args.batch, 5, 20.0)
    gradient_batch = batch if args.smoke or args.gradient_batch is None else args.gradient_batch
    selected = cases()
    if args.only:
        selected = {name: case for name, case in selected.items() if name in args.only.split(",")}
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    lines = list(HEADER)
    print("\n".join(HEADER), flush=True)
    notes = []
    for name, case in selected.items():
        for n_qubits in qubits:
            result = measure(case, n_qubits, batch, gradient_batch, repeats, budget)
            for row in rows_of(result):
                print(row, flush=True)
                lines.append(row)
            notes.append(f"- {name}, n={n_qubits}: outputs agree to {result['max_error']:.1e}; hand gradient: "
                         f"{result['gradient_hand_route']}; loop: {result['loop_note']}")  # fmt: skip
    print("\n".join(notes))
    print(f"at the end: load average {os.getloadavg()[0]:.2f}")
    if args.markdown:
        Path(args.markdown).write_text("\n".join([*lines, "", *notes]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
