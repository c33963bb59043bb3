"""Training cost: one optimiser step of QWTHN (and QTHA) against LoRA r=4, in one process, interleaved.

Models are built from a config (no weights to download; a step's cost does not depend on the
weights' values): a ~60M-parameter Qwen2 (hidden 512, 12 layers) with batch 4 x 256 tokens, the
embedded demo's tiny Qwen2 with the demo's batch (64 x 48 tokens), and SmolLM2-135M's shape (Llama,
30 layers, width 576) with the smollm-math task's batch of 8 and 128 tokens (its worked examples run
60-110 tokens; 256 is only its truncation cap). Each step is forward + backward + AdamW on q_proj/v_proj
adapters, on the emulator. Rounds alternate the methods so they share whatever else the machine does; the median
step time and the peak extra resident memory during the steps are printed with their ratio to LoRA's.
Then the forward time of each adapter part (MPO maps, QNN, fusion/dense maps) is measured with
forward hooks, to show where any extra time goes.

    python benchmarks/train_step.py                 # every model
    python benchmarks/train_step.py --models demo smollm2
    python benchmarks/train_step.py --smoke         # the tiny model, 3 rounds (CI)
    python benchmarks/train_step.py --device cuda --bf16   # on a GPU, bf16 autocast (the QNN stays float32)
    python benchmarks/train_step.py --markdown docs/results/train_step.md
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

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
    "SmolLM2-135M (its shape: Llama, 30 layers, width 576), batch 8 x 128": (
        LlamaConfig(
            vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
            num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True, max_position_embeddings=2048,
        ),
        8,
        128,
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


SHORT_NAMES = {"qwen60m": "Qwen2 ~60M", "smollm2": "SmolLM2-135M", "demo": "embedded demo model"}
CPU = torch.device("cpu")


def build(config, adapter: dict, device: torch.device = CPU):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).to(device)
    inject_adapter(model, parse_adapter_config({**adapter, **({} if adapter["method"] == "lora" else {"seed": 0})}))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return model, optimizer


def step(model, optimizer, tokens, bf16: bool = False) -> None:
    with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=bf16):
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


class CudaPeak:
    """Peak CUDA memory allocated above the level at entry (MiB)."""

    def __enter__(self):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        self.start, self.peak = torch.cuda.memory_allocated(), 0.0
        return self

    def __exit__(self, *exc):
        torch.cuda.synchronize()
        self.peak = (torch.cuda.max_memory_allocated() - self.start) / 2**20


def run(models: dict, rounds: int, device: torch.device = CPU, bf16: bool = False) -> list[dict]:
    rows = []
    watch = CudaPeak if device.type == "cuda" else Peak
    for model_name, (config, batch, length) in models.items():
        tokens = torch.randint(0, config.vocab_size, (batch, length), generator=torch.Generator().manual_seed(0))
        tokens = tokens.to(device)
        built = {name: build(config, adapter, device) for name, adapter in METHODS.items()}
        for model, optimizer in built.values():
            step(model, optimizer, tokens, bf16)  # warm-up
        times = {name: [] for name in METHODS}
        peaks = {name: 0.0 for name in METHODS}
        for _ in range(rounds):
            for name, (model, optimizer) in built.items():
                with watch() as peak:
                    start = time.perf_counter()
                    step(model, optimizer, tokens, bf16)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
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
        f"Generated by `{command}` on {torch.get_num_threads()} CPU thread(s), emulator; medians over "
        "interleaved rounds. Peak memory is the largest resident-set growth during a step (sampled every 10 ms; "
        "on CUDA, the peak allocated above the step's start).",
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
    parser.add_argument("--models", nargs="+", choices=sorted(SHORT_NAMES), help="default: every model")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the model (the QNN stays float32)")
    args = parser.parse_args(argv)
    if args.device not in ("cpu", "cuda") or (args.device == "cuda" and not torch.cuda.is_available()):
        missing = "no CUDA device" if args.device == "cuda" else "no such device"
        parser.error(f"--device {args.device}: this machine has {missing}; use --device cpu")
    chosen = ["demo"] if args.smoke else (args.models or list(SHORT_NAMES))
    models = {k: v for k, v in MODELS.items() if any(k.startswith(SHORT_NAMES[name]) for name in chosen)}
    rows = run(models, 3 if args.smoke else args.rounds, torch.device(args.device), args.bf16)
    command = "python benchmarks/train_step.py" + (" --smoke" if args.smoke else f" --rounds {args.rounds}")
    command += f" --models {' '.join(args.models)}" if args.models and not args.smoke else ""
    command += f" --device {args.device}" if args.device != "cpu" else ""
    command += " --bf16" if args.bf16 else ""
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows, command), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
