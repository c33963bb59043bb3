"""Fine-tune a QWTHN (or LoRA) adapter in your own loop with Accelerate: DDP, mixed precision, accumulation.

    python examples/accelerate_finetune.py --tiny --output /tmp/accelerate-tiny            # one process
    accelerate launch --multi_gpu --num_processes 2 examples/accelerate_finetune.py --tiny --output /tmp/acc
        # two processes; on a machine without a GPU they train on the CPU over gloo
    accelerate launch --num_processes 8 --mixed_precision bf16 examples/accelerate_finetune.py --model ...

What a loop owes a qwthn model (docs/distributed.md): inject the adapter before `prepare`; save with
`save_adapter` on the unwrapped model from the main process only. (Under mixed precision the adapter
update stays float32 by itself: `AdapterLayer` turns autocast off around it.) Each process loads the
whole model and the whole QNN; DDP all-reduces the circuit weights' gradients like any other
parameter's. `--batch-size` is per process: the global batch is batch size x processes x accumulation
steps.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from trainer_finetune import adapter_config, load_base_and_data  # the same model, data and adapter choices

from qwthn_transformers import inject_adapter, save_adapter
from qwthn_transformers.data import collate, encode_example
from qwthn_transformers.trainer import enable_gradient_checkpointing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="local model directory or hub id")
    parser.add_argument("--dataset", type=Path, help='JSONL, one {"prompt", "response"} per line')
    parser.add_argument("--method", choices=("qwthn", "lora"), default="qwthn")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8, help="per process, per micro-batch")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--mixed-precision", choices=("no", "bf16", "fp16"), default="no")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model and 4 steps, for CI")
    parser.add_argument("--examples", type=int, default=2000, help="built-in examples when no --dataset")
    args = parser.parse_args()
    if args.tiny:
        args.max_steps, args.batch_size, args.grad_accum, args.examples = 4, 4, 2, 48

    accelerator = Accelerator(mixed_precision=args.mixed_precision, gradient_accumulation_steps=args.grad_accum,
                              cpu=not torch.cuda.is_available())  # fmt: skip
    set_seed(0)
    model, tokenizer, examples = load_base_and_data(args)
    accelerator.print(inject_adapter(model, adapter_config(args.method)), f"on {accelerator.num_processes} processes")
    if args.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    encoded = [encode_example(tokenizer, example, args.max_length) for example in examples]
    loader = DataLoader(encoded, batch_size=args.batch_size, shuffle=True,
                        collate_fn=partial(collate, pad_token_id=tokenizer.pad_token_id))  # fmt: skip
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.learning_rate)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)  # each process gets its own batches

    model.train()
    step = 0
    while step < args.max_steps:
        for batch in loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
            if accelerator.sync_gradients:  # one optimiser step done
                step += 1
                mean = accelerator.reduce(loss.detach(), "mean")  # the last micro-batch's loss, over processes
                accelerator.print(f"step {step}: loss {mean.item():.4f}")
                if step == args.max_steps:
                    break

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        print(f"adapter saved to {save_adapter(accelerator.unwrap_model(model), args.output)}")
    accelerator.end_training()


if __name__ == "__main__":
    main()
