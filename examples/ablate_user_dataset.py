"""Where does any gain come from, on your own data? `qwthn ablate` on a JSONL dataset.

    python examples/ablate_user_dataset.py --dataset data.jsonl --output runs/ablate-mine
    python examples/ablate_user_dataset.py --tiny --output /tmp/ablate-tiny     # CI: a minute on a CPU

Without --dataset it writes a small dataset of its own (word reversal: "reverse: abc" -> "cba"), the
kind of file `--dataset` takes: one {"prompt", "response"} object per line. The arms compare QWTHN
with its classical controls (no QNN; the QNN replaced by an MLP of the same size) and LoRA r=4; the
report (report.md, report.json, plots) says which component carries any gain. It is the same as

    qwthn ablate --dataset data.jsonl --arms lora-r4,qwthn,qwthn-no-qnn,qwthn-mlp --output runs/ablate-mine
"""

from __future__ import annotations

import argparse
import json
import random
import string
from pathlib import Path

from qwthn.cli import main

ARMS = "lora-r4,qwthn,qwthn-no-qnn,qwthn-mlp"


def reversal_dataset(path: Path, size: int, seed: int = 0) -> Path:
    """Short lowercase words and their reversals: learnable by a small model, not memorised by the base."""
    rng = random.Random(seed)
    words = {"".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 6))) for _ in range(size * 2)}
    lines = [json.dumps({"prompt": f"reverse: {word} =", "response": word[::-1]}) for word in sorted(words)[:size]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main_args(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, help="JSONL of prompt/response pairs (default: word reversal)")
    parser.add_argument("--output", type=Path, required=True, help="ablation directory (rerun it to resume)")
    parser.add_argument("--tiny", action="store_true", help="smoke settings: tiny base model, 1 seed, few steps")
    args = parser.parse_args(argv)
    dataset = args.dataset or reversal_dataset(args.output.parent / f"{args.output.name}-data.jsonl",
                                               size=60 if args.tiny else 600)  # fmt: skip
    command = ["ablate", "--dataset", str(dataset), "--arms", ARMS, "--output", str(args.output)]
    if args.tiny:
        command += ["--smoke", "--seeds", "1", "--grid-points", "2", "--grid-extensions", "0", "--no-noise-sweep"]
    return command


if __name__ == "__main__":
    main(main_args())
