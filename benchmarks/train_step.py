"""Training cost: one optimiser step of QWTHN (and QTHA) against LoRA r=4, in one process, interleaved.

Models are Qwen2-architecture, built from a config (no weights to download): a ~60M-parameter one
(hidden 512, 12 layers) with batch 4 x 256 tokens, and the embedded demo's tiny model with the demo's
batch (64 x 48 tokens). Each step is forward + backward + AdamW on q_proj/v_proj adapters, on the
emulator. Rounds alternate the methods so they share whatever else the machine does; the median
step time and the peak extra resident memory during the steps are printed with their ratio to LoRA's.
Then the forward time of each adapter part (MPO maps, QNN, fusion/dense maps) is measured with
forward hooks, to show where any extra time goes.

    python benchmarks/train_step.py                 # both models
    python benchmarks/train_step.py --smoke         # the tiny model, 3 rounds (CI)
    python benchmarks/train_step.py --markdown docs/results/train_step.md
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from qwthn.methods.loading import parse_adapter_config
from qwthn_transformers import inject_adapter
from qwthn_transformers.embedded.base_model import BaseModelSpec

METHODS = {
    "LoRA r=4": {"method": "lora", "r": 4, "alpha": 8.0},
    "QWTHN (default)": {"method": "qwthn"},
    "QTHA (authors', r=4)": {"method": "qtha"},
}
DEMO = BaseModelSpec()
MODELS = {
    "Qwen2 ~60M (hidden 512, 12 layers), batch 4 x 256": (
        Qwen2Config(
            vocab_size=32000, hidden_size=512, intermediate_size=1536, num_hidden_layers=12,
            num_attention_heads=8, num_key_value_heads=2, tie_word_embeddings=True,
        ),
        4,
        256,
    ),
    "embedded demo model (its shape), batch 64 x 48": (
        Qwen2Config(
            vocab_size=DEMO.vocab_size, hidden_size=DEMO.hidden_size, intermediate_size=DEMO.intermediate_size,
            num_hidden_layers=DEMO.num_hidden_layers, num_attention_heads=DEMO.num_attention_heads,
            num_key_value_heads=DEMO.num_key_value_heads, tie_word_embeddings=True,
        ),
        64,
        48,
    ),
}  # fmt: skip


def rss_mib() -> float:
    import os

    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Peak:
    """Peak resident memory above the level at entry (MiB), sampled every 10 ms."""

    def __enter__(self):
        self.start, self.peak, self._stop = rss_mib(), 0.0, threading.Event()

        def poll():
            while not self._stop.wait(0.01):
                self.peak = max(self.peak, rss_mib() - self.start)

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def build(config: Qwen2Config, adapter: dict):
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    inject_adapter(model, parse_adapter_config({**adapter, **({} if adapter["method"] == "lora" else {"seed": 0})}))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return model, optimizer


def step(model, optimizer, tokens) -> None:
    loss = model(input_ids=tokens, labels=tokens).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def part_times(model, tokens) -> dict[str, float]:
    """Forward seconds spent in each adapter part, summed over layers (forward hooks around submodules)."""
    totals: dict[str, float] = {}
    handles = []
    for name, module in model.named_modules():
        part = name.rsplit(".", 1)[-1]
        if part in ("down", "up", "mpo_down", "mpo_up", "qnn", "dense_down", "dense_up", "lora_A", "lora_B"):
            label = {"down": "MPO", "up": "MPO", "mpo_down": "MPO", "mpo_up": "MPO", "qnn": "QNN"}.get(part, "dense")

            def pre(_m, _i, label=label):
                totals.setdefault("_start", {})[id(_m)] = time.perf_counter()

            def post(_m, _i, _o, label=label):
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - totals["_start"].pop(id(_m))

            handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    start = time.perf_counter()
    with torch.no_grad():
        model(input_ids=tokens)
    whole = time.perf_counter() - start
    for handle in handles:
        handle.remove()
    totals.pop("_start", None)
    return {**totals, "whole forward": whole}


def run(models: dict, rounds: int) -> list[dict]:
    rows = []
    for model_name, (config, batch, length) in models.items():
        tokens = torch.randint(0, config.vocab_size, (batch, length), generator=torch.Generator().manual_seed(0))
        built = {name: build(config, adapter) for name, adapter in METHODS.items()}
        for model, optimizer in built.values():
            step(model, optimizer, tokens)  # warm-up
        times = {name: [] for name in METHODS}
        peaks = {name: 0.0 for name in METHODS}
        for _ in range(rounds):
            for name, (model, optimizer) in built.items():
                with Peak() as peak:
                    start = time.perf_counter()
                    step(model, optimizer, tokens)
                    times[name].append(time.perf_counter() - start)
                peaks[name] = max(peaks[name], peak.peak)
        base = statistics.median(times["LoRA r=4"])
        for name in METHODS:
            median = statistics.median(times[name])
            parts = part_times(built[name][0], tokens)
            rows.append({"model": model_name, "method": name, "step_ms": median * 1e3, "ratio": median / base,
                         "peak_mib": peaks[name], "parts_ms": {k: v * 1e3 for k, v in parts.items()}})  # fmt: skip
            print(f"{model_name} | {name}: {median * 1e3:.1f} ms/step ({median / base:.2f}x LoRA), peak extra "
                  f"{peaks[name]:.0f} MiB; forward parts (ms): "
                  + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in parts.items()), flush=True)  # fmt: skip
    return rows


def markdown(rows: list[dict], command: str) -> str:
    lines = [
        "# Training cost: one step of each adapter against LoRA r=4",
        "",
        f"Generated by `{command}` on {torch.get_num_threads()} CPU thread(s), emulator, float32; medians over "
        "interleaved rounds. Peak memory is the largest resident-set growth during a step (sampled every 10 ms).",
        "",
        "| model | method | step (ms) | x LoRA r=4 | peak extra memory (MiB) | forward time by part (ms) |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["parts_ms"].items())
        lines.append(f"| {r['model']} | {r['method']} | {r['step_ms']:.1f} | {r['ratio']:.2f} | "
                     f"{r['peak_mib']:.0f} | {parts} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the tiny model, 3 rounds")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--markdown")
    args = parser.parse_args(argv)
    models = {k: v for k, v in MODELS.items() if "demo" in k} if args.smoke else MODELS
    rows = run(models, 3 if args.smoke else args.rounds)
    command = "python benchmarks/train_step.py" + (" --smoke" if args.smoke else f" --rounds {args.rounds}")
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows, command), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
