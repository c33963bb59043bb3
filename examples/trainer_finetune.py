"""Fine-tune a QWTHN (or LoRA) adapter with transformers' Trainer: the recipe of docs/trainer.md.

    python examples/trainer_finetune.py --model ./local-model --dataset data.jsonl --output runs/trainer
    python examples/trainer_finetune.py --tiny --output /tmp/trainer-tiny        # a few seconds on a CPU
    torchrun --nproc_per_node 4 examples/trainer_finetune.py --model ... --bf16  # DDP: Trainer does it

Checkpoints (`<output>/checkpoint-<step>`) hold the adapter files plus Trainer's optimiser, scheduler,
RNG and trainer state, never the base model; `--resume` continues from the newest one. The finished
adapter is written to `<output>` and loads with `qwthn_transformers.load_adapter(base_model, output)`.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Qwen2Config, Qwen2ForCausalLM, TrainingArguments

from qwthn import LoRAConfig, QWTHNConfig
from qwthn.methods.base import AdapterConfig
from qwthn_transformers import inject_adapter
from qwthn_transformers.data import Example, collate, encode_example, load_jsonl, split_examples
from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded.tokenizer import train_tokenizer
from qwthn_transformers.loading import load_causal_lm
from qwthn_transformers.trainer import QwthnTrainer


def tiny_base(examples: list[Example]) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A random 2-layer Qwen2 and a tokenizer trained on the examples: the pipeline runs, nothing is learnt."""
    tokenizer = train_tokenizer((f"{ex.prompt} {ex.response}" for ex in examples), vocab_size=320)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return Qwen2ForCausalLM(config), tokenizer


def load_base_and_data(args: argparse.Namespace) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, list[Example]]:
    """The base model and prompt/response examples the options name (the built-in math problems by default)."""
    examples = load_jsonl(args.dataset) if args.dataset else corpus.task_split(args.examples, 0)[0]
    if args.tiny:
        return (*tiny_base(examples), examples)
    if not args.model:
        raise SystemExit("pass --model (a local directory or hub id) or --tiny")
    return (*load_causal_lm(args.model), examples)


def adapter_config(method: str) -> AdapterConfig:
    return QWTHNConfig(seed=0) if method == "qwthn" else LoRAConfig(r=8, alpha=16.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="local model directory or hub id")
    parser.add_argument("--dataset", type=Path, help='JSONL, one {"prompt", "response"} per line')
    parser.add_argument("--method", choices=("qwthn", "lora"), default="qwthn")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8, help="per device, per micro-batch")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast; the adapter stays float32")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model and 6 steps, for CI")
    parser.add_argument("--examples", type=int, default=2000, help="built-in examples when no --dataset")
    args = parser.parse_args()
    if args.tiny:
        args.max_steps, args.batch_size, args.grad_accum, args.examples = 6, 4, 2, 48

    model, tokenizer, examples = load_base_and_data(args)
    print(inject_adapter(model, adapter_config(args.method)))
    train_set, eval_set = split_examples(examples, 0.1, seed=0)
    encode = partial(encode_example, tokenizer, max_length=args.max_length)
    every = max(1, args.max_steps // 3)
    training = TrainingArguments(
        output_dir=str(args.output), max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size, gradient_accumulation_steps=args.grad_accum,
        learning_rate=args.learning_rate, warmup_steps=max(1, args.max_steps // 10), max_grad_norm=1.0,
        eval_strategy="steps", eval_steps=every, save_strategy="steps", save_steps=every, save_total_limit=2,
        logging_steps=max(1, every // 5), bf16=args.bf16,
        activation_checkpointing=args.gradient_checkpointing,  # `gradient_checkpointing` before transformers 5
        use_cpu=not torch.cuda.is_available(), report_to=[], seed=0,
        ddp_find_unused_parameters=False,  # every adapter tensor is used: skip DDP's extra graph walk
    )  # fmt: skip
    trainer = QwthnTrainer(
        model=model, args=training, processing_class=tokenizer,
        train_dataset=[encode(ex) for ex in train_set], eval_dataset=[encode(ex) for ex in eval_set],
        data_collator=partial(collate, pad_token_id=tokenizer.pad_token_id),
    )  # fmt: skip
    trainer.train(resume_from_checkpoint=True if args.resume else None)
    print(trainer.evaluate())
    trainer.save_model(str(args.output))  # rank 0 writes adapter_config.json + adapter_model.safetensors


if __name__ == "__main__":
    main()
