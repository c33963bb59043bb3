"""Expressivity: can an adapter's update fit a target weight update beyond the rank limit LoRA cannot pass?

A frozen linear layer of width d gets a target update dW* (full rank with a power-law spectrum
s_i = i^-1, or exactly rank k); each method's update Delta(x) is fitted by Adam to dW* x on Gaussian
inputs (isotropic, so E|dW* x - Delta(x)|^2 = |dW* - dW|_F^2 for a linear Delta) and scored by
relative error on held-out inputs. Eckart-Young gives the best any rank-r linear update can do:
sqrt(sum_{i>r} s_i^2 / sum_i s_i^2). Methods run at their defaults, and LoRA at the rank whose
parameter count is closest to each; the table prints every method's count beside its error and the
Eckart-Young error at LoRA's matched rank and at the method's bottleneck width.

QWTHN's update depends on x only through z = D x (n numbers), so for a linear target its best is the
rank-n Eckart-Young error whatever the circuit does; the table shows how close the fits come.

    python benchmarks/expressivity.py                          # d = 64, 128, 256; both targets
    python benchmarks/expressivity.py --smoke                  # d = 32, few steps (CI)
    python benchmarks/expressivity.py --markdown docs/results/expressivity.md
"""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn

from qwthn import RuntimeConfig
from qwthn.methods.loading import parse_adapter_config
from qwthn.plugins import host
from qwthn.runtime import Runtime

METHODS = {
    "qwthn (default)": {"method": "qwthn"},
    "qwthn (linear fusion, probs)": {"method": "qwthn", "fusion": "linear", "readout": "probs"},
    "qtha (ABC, r=4)": {"method": "qtha", "mpo_width": 64},
    "qtha-mpo-dense (AB, r=4)": {"method": "qtha-mpo-dense", "mpo_width": 64},
}
BOTTLENECK = {"qwthn (default)": 4, "qwthn (linear fusion, probs)": 4, "qtha (ABC, r=4)": 4,
              "qtha-mpo-dense (AB, r=4)": 4}  # fmt: skip
"""Width every update passes through (qubits / rank): no update can depend on more input directions."""


def target(d: int, kind: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(dW* [d, d], its singular values)."""
    left, _ = torch.linalg.qr(torch.randn(d, d, generator=generator))
    right, _ = torch.linalg.qr(torch.randn(d, d, generator=generator))
    values = 1.0 / torch.arange(1, d + 1, dtype=torch.float32)
    if kind.startswith("rank-"):
        values = torch.where(torch.arange(d) < int(kind.removeprefix("rank-")), torch.ones(d), torch.zeros(d))
    return left @ torch.diag(values) @ right.T, values


def eckart_young(values: torch.Tensor, rank: int) -> float:
    return math.sqrt(float((values[rank:] ** 2).sum() / (values**2).sum()))


def adapter_layer(d: int, spec: dict, runtime: Runtime, seed: int) -> nn.Module:
    seeded = {} if spec["method"] == "lora" else {"seed": seed}
    config = parse_adapter_config({**spec, "target_modules": ["x"], **seeded})
    return host.methods.get(config.method).layer_class(nn.Linear(d, d, bias=False), config, runtime)


def fit(layer: nn.Module, truth: torch.Tensor, steps: int, seed: int) -> float:
    """Adam on mean |Delta(x) - dW* x|^2; the relative error on 4096 held-out inputs."""
    generator = torch.Generator().manual_seed(seed)
    d = truth.shape[0]
    params = [p for name, p in layer.named_parameters() if not name.startswith("base_layer")]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        x = torch.randn(256, d, generator=generator)
        loss = (layer.delta(x) - x @ truth.T).pow(2).sum(dim=1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        x = torch.randn(4096, d, generator=generator)
        return float((layer.delta(x) - x @ truth.T).norm() / (x @ truth.T).norm())


def count(layer: nn.Module) -> int:
    return sum(p.numel() for n, p in layer.named_parameters() if not n.startswith("base_layer") and p.requires_grad)


def lora_rank_for(d: int, budget: int) -> int:
    """The LoRA rank whose 2 d r parameters come closest to `budget` (at least 1)."""
    return max(1, round(budget / (2 * d)))


def run(widths: list[int], kinds: list[str], steps: int, seed: int) -> list[dict]:
    runtime = Runtime.from_config(RuntimeConfig())
    rows = []
    for d in widths:
        for kind in kinds:
            truth, values = target(d, kind, torch.Generator().manual_seed(seed + d))
            for name, spec in METHODS.items():
                layer = adapter_layer(d, spec, runtime, seed)
                params = count(layer)
                error = fit(layer, truth, steps, seed)
                rank = lora_rank_for(d, params)
                lora = adapter_layer(d, {"method": "lora", "r": rank, "alpha": float(rank)}, runtime, seed)
                lora_error = fit(lora, truth, steps, seed)
                rows.append({
                    "d": d, "target": kind, "method": name, "params": params, "error": error,
                    "lora_rank": rank, "lora_params": count(lora), "lora_error": lora_error,
                    "eckart_young_lora": eckart_young(values, rank),
                    "bottleneck": BOTTLENECK[name], "eckart_young_bottleneck": eckart_young(values, BOTTLENECK[name]),
                })  # fmt: skip
                print(f"d={d} {kind} {name}: {params} params, error {error:.4f} (rank-{BOTTLENECK[name]} bound "
                      f"{rows[-1]['eckart_young_bottleneck']:.4f}); LoRA r={rank} ({count(lora)} params) "
                      f"{lora_error:.4f} (bound {rows[-1]['eckart_young_lora']:.4f})", flush=True)  # fmt: skip
    return rows


def markdown(rows: list[dict], command: str) -> str:
    lines = [
        "# Expressivity: fitting a target update at matched parameter budgets",
        "",
        f"Generated by `{command}` (emulator, exact). Relative error |Delta(X) - dW* X|_F / |dW* X|_F on held-out "
        "Gaussian inputs after Adam; the Eckart-Young column is the least error of any linear update of that rank.",
        "",
        "| d | target | method | params | error | rank-bottleneck EY bound | LoRA rank (params) | LoRA error | "
        "EY bound at LoRA's rank |",
        "| ---: | --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['d']} | {r['target']} | {r['method']} | {r['params']:,} | {r['error']:.4f} | "
            f"{r['eckart_young_bottleneck']:.4f} (r={r['bottleneck']}) | {r['lora_rank']} ({r['lora_params']:,}) | "
            f"{r['lora_error']:.4f} | {r['eckart_young_lora']:.4f} |"
        )
    below = [r for r in rows if r["error"] < r["eckart_young_bottleneck"] - 1e-3]
    lora_better = [r for r in rows if r["lora_error"] < r["error"]]
    lines += [
        "",
        f"Rows where a method's error falls below the Eckart-Young bound of its bottleneck width: {len(below)} of "
        f"{len(rows)}. For a linear target, an update that sees x only through n numbers (z = D x, or h = A x) "
        "can do no better than the best rank-n linear map, whatever non-linearity follows.",
        f"Rows where LoRA at the matched parameter count fits better than the method: {len(lora_better)} of "
        f"{len(rows)}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="d = 32, 40 steps (CI)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", help="write the table to this Markdown file")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    kinds = ["power-law", "rank-8"]
    widths, steps = ([32], 40) if args.smoke else ([64, 128, 256], args.steps)
    rows = run(widths, kinds, steps, args.seed)
    command = "python benchmarks/expressivity.py" + (" --smoke" if args.smoke else f" --steps {steps}")
    text = markdown(rows, command)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        print(text)
    if args.smoke:
        assert all(r["error"] >= r["eckart_young_bottleneck"] - 1e-3 for r in rows), "a fit beat Eckart-Young"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
