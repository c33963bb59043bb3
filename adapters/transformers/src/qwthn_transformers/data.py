"""Prompt/response examples: JSONL loading with line-numbered errors, and tokenisation for training.

The loss is masked to the response tokens (plus the closing EOS), so the adapter learns to answer
rather than to reproduce prompts. Prompt and response are tokenised separately and concatenated,
which keeps training and greedy evaluation (that feeds the prompt alone) on identical token
boundaries for any tokenizer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase

from qwthn.errors import QwthnError
from qwthn.files import read_user_text

IGNORE_INDEX = -100
"""Label value torch's cross-entropy skips: prompt and padding positions."""


@dataclass(frozen=True)
class Example:
    """One supervised pair; `response` is what exact match compares against."""

    prompt: str
    response: str


def load_jsonl(path: str | Path) -> list[Example]:
    """Read a JSONL file with one {"prompt": str, "response": str} object per line (blank lines skipped)."""
    path = Path(path)
    if path.is_dir():
        raise QwthnError(f"dataset {path} is a directory; pass --dataset a JSONL file with prompt/response lines")
    if not path.is_file():
        raise QwthnError(f"dataset file {path} does not exist; pass --dataset a JSONL file with prompt/response lines")
    examples: list[Example] = []
    lines = read_user_text(path, "dataset").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        examples.append(_parse_line(path, number, line))
    if not examples:
        raise QwthnError(f'dataset {path} has no examples; add lines like {{"prompt": "...", "response": "..."}}')
    return examples


def _parse_line(path: Path, number: int, line: str) -> Example:
    where = f"{path} line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise QwthnError(
            f"{where}: not valid JSON ({error.msg}); write one JSON object per line, "
            '{"prompt": "...", "response": "..."}'
        ) from None
    if not isinstance(record, dict):
        raise QwthnError(
            f'{where}: expected a JSON object, got {type(record).__name__}; use {{"prompt": ..., "response": ...}}'
        )
    for key in ("prompt", "response"):
        if key not in record:
            raise QwthnError(f'{where}: missing "{key}"; every line needs string "prompt" and "response" fields')
        if not isinstance(record[key], str):
            raise QwthnError(f'{where}: "{key}" must be a string, got {type(record[key]).__name__}; quote it')
    if not record["response"].strip():
        raise QwthnError(f'{where}: "response" is empty; give every example a non-empty response')
    return Example(prompt=record["prompt"], response=record["response"])


def deduplicate(examples: list[Example]) -> tuple[list[Example], int]:
    """The examples with repeats dropped (first kept, order kept) and how many were dropped.

    A repeated example could land in both the training and held-out split, which inflates exact match.
    """
    unique = list(dict.fromkeys(examples))
    return unique, len(examples) - len(unique)


def truncated(tokenizer: PreTrainedTokenizerBase, examples: list[Example], max_length: int) -> int:
    """How many examples `encode_example` cuts to their last `max_length` tokens."""
    count = 0
    for example in examples:
        response = tokenizer(example.response, add_special_tokens=False)["input_ids"]
        extra = 1 if tokenizer.eos_token_id is not None else 0
        count += len(encode_prompt(tokenizer, example.prompt)) + len(response) + extra > max_length
    return count


def split_examples(examples: list[Example], eval_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Shuffle deterministically and hold out `eval_fraction` (at least one example) for evaluation."""
    if len(examples) < 2:
        raise QwthnError(f"dataset has {len(examples)} example(s); provide at least 2 so one can be held out")
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(seed)).tolist()
    n_eval = min(len(examples) - 1, max(1, round(len(examples) * eval_fraction)))
    held_out = [examples[i] for i in order[:n_eval]]
    train = [examples[i] for i in order[n_eval:]]
    return train, held_out


def chat_prompt(tokenizer: PreTrainedTokenizerBase, question: str) -> str:
    """`question` as the model's chat template renders a user turn, the assistant's turn opened; an instruct
    model is trained and evaluated in the format it was tuned on. Without a template, the question itself."""
    if not getattr(tokenizer, "chat_template", None):
        return question
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True)  # fmt: skip


def encode_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str) -> list[int]:
    """Prompt ids with the tokenizer's own special tokens (e.g. BOS), exactly as evaluation feeds them."""
    return tokenizer(prompt, add_special_tokens=True)["input_ids"]


def encode_example(tokenizer: PreTrainedTokenizerBase, example: Example, max_length: int) -> dict[str, list[int]]:
    """input_ids and labels for one example; labels are IGNORE_INDEX on the prompt."""
    prompt_ids = encode_prompt(tokenizer, example.prompt)
    response_ids = tokenizer(example.response, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        response_ids = [*response_ids, tokenizer.eos_token_id]
    # Over-long examples lose the start of the prompt, never the response the loss is about.
    input_ids = (prompt_ids + response_ids)[-max_length:]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + response_ids)[-max_length:]
    return {"input_ids": input_ids, "labels": labels}


def collate(batch: list[dict[str, list[int]]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch for teacher-forced training (the attention mask hides the padding)."""
    width = max(len(item["input_ids"]) for item in batch)
    input_ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, item in enumerate(batch):
        length = len(item["input_ids"])
        input_ids[row, :length] = torch.tensor(item["input_ids"])
        labels[row, :length] = torch.tensor(item["labels"])
        attention_mask[row, :length] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}
