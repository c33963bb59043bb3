"""Batched greedy decoding and exact-match accuracy on held-out prompt/response pairs.

Prompts are encoded exactly as in training (`encode_prompt`) and left-padded by hand, so any
tokenizer works whatever its configured padding side. A prediction counts only if the decoded
continuation, up to EOS and stripped of surrounding whitespace, equals the reference response.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from qwthn_transformers.data import Example, encode_prompt
from qwthn_transformers.math_problems import final_number
from qwthn_transformers.progress import progress

MAX_NEW_TOKENS_CAP = 128


def _pad_id(tokenizer: PreTrainedTokenizerBase) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return 0 if pad is None else pad


@torch.no_grad()
def generate_responses(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int = 64,
    description: str | None = None,
) -> list[str]:
    """Greedy continuations of `prompts`, decoded without special tokens (progress shown if `description`)."""
    model.eval()
    outputs: list[str] = []
    starts = range(0, len(prompts), batch_size)
    bar = progress(len(starts), description, "batch") if description is not None else None
    with bar or nullcontext():
        for start in starts:
            outputs.extend(_generate_batch(model, tokenizer, prompts[start : start + batch_size], max_new_tokens))
            if bar is not None:
                bar.update()
    return outputs


def _generate_batch(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], max_new_tokens: int
) -> list[str]:
    """One left-padded batch, each continuation cut at EOS."""
    pad_id = _pad_id(tokenizer)
    encoded = [encode_prompt(tokenizer, prompt) for prompt in prompts]
    width = max(len(ids) for ids in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, ids in enumerate(encoded):
        input_ids[row, width - len(ids) :] = torch.tensor(ids)
        attention_mask[row, width - len(ids) :] = 1
    generated = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=pad_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    outputs = []
    for row in generated[:, width:].tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id)]
        outputs.append(tokenizer.decode(row, skip_special_tokens=True))
    return outputs


def exact_match(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    description: str | None = None,
) -> dict:
    """Accuracy plus the predictions, with room to generate the longest reference and a little more."""
    longest = max(len(tokenizer(ex.response, add_special_tokens=False)["input_ids"]) for ex in examples)
    prompts = [ex.prompt for ex in examples]
    predictions = generate_responses(
        model, tokenizer, prompts, min(MAX_NEW_TOKENS_CAP, longest + 2), description=description
    )
    hits = [pred.strip() == ex.response.strip() for pred, ex in zip(predictions, examples, strict=True)]
    return {"accuracy": sum(hits) / len(hits), "correct": sum(hits), "total": len(hits), "predictions": predictions}


def final_number_accuracy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    answers: Sequence[int],
    max_new_tokens: int,
    description: str | None = None,
) -> dict:
    """Accuracy of the final number of each greedy continuation (math_problems.final_number) against `answers`."""
    predictions = generate_responses(model, tokenizer, prompts, max_new_tokens, description=description)
    hits = [final_number(text) == answer for text, answer in zip(predictions, answers, strict=True)]
    return {"accuracy": sum(hits) / len(hits), "correct": sum(hits), "total": len(hits), "predictions": predictions}
