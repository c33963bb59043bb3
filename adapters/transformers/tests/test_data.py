"""JSONL prompt/response loading (one-line, line-numbered errors) and response-masked tokenisation."""

from __future__ import annotations

import itertools
import json

import pytest

from qwthn.errors import QwthnError
from qwthn_transformers.data import IGNORE_INDEX, Example, collate, encode_example, load_jsonl, split_examples
from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(itertools.islice(corpus.base_documents(0, 20), 2000), vocab_size=400)


def write(tmp_path, *lines: str):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loads_examples_and_skips_blank_lines(tmp_path):
    path = write(
        tmp_path, json.dumps({"prompt": "1+1=", "response": "2"}), "", json.dumps({"prompt": "", "response": "ok"})
    )
    assert load_jsonl(path) == [Example("1+1=", "2"), Example("", "ok")]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"prompt": "x"}', 'missing "response"'),
        ('{"prompt": 3, "response": "x"}', '"prompt" must be a string'),
        ('{"prompt": "x", "response": "  "}', '"response" is empty'),
    ],
)
def test_bad_lines_are_one_line_errors_with_their_line_number(tmp_path, line, fragment):
    path = write(tmp_path, json.dumps({"prompt": "a", "response": "b"}), "", line)
    with pytest.raises(QwthnError) as error:
        load_jsonl(path)
    message = str(error.value)
    assert "\n" not in message and f"{path} line 3" in message and fragment in message


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(QwthnError, match="does not exist"):
        load_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(QwthnError, match="no examples"):
        load_jsonl(write(tmp_path, "", "  "))


def test_loss_is_masked_to_the_response_and_eos(tokenizer):
    item = encode_example(tokenizer, Example("Tom has 3 apples.", "7"), max_length=64)
    prompt_ids = tokenizer("Tom has 3 apples.")["input_ids"]
    response_ids = tokenizer("7", add_special_tokens=False)["input_ids"]
    assert item["input_ids"] == prompt_ids + response_ids + [tokenizer.eos_token_id]
    assert item["labels"] == [IGNORE_INDEX] * len(prompt_ids) + response_ids + [tokenizer.eos_token_id]


def test_truncation_keeps_the_response(tokenizer):
    item = encode_example(tokenizer, Example("Tom has 3 apples. " * 20, "7"), max_length=10)
    assert len(item["input_ids"]) == 10
    assert item["labels"][-2:] == [tokenizer("7", add_special_tokens=False)["input_ids"][0], tokenizer.eos_token_id]


def test_collate_right_pads_with_masked_labels():
    batch = collate(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}], pad_token_id=0
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_split_is_deterministic_disjoint_and_never_empty():
    examples = [Example(str(i), str(i)) for i in range(30)]
    train, held_out = split_examples(examples, 0.1, seed=0)
    assert (train, held_out) == split_examples(examples, 0.1, seed=0)
    assert len(held_out) == 3 and sorted(train + held_out, key=lambda e: int(e.prompt)) == examples
    assert [len(part) for part in split_examples(examples[:2], 0.1, seed=0)] == [1, 1]
    with pytest.raises(QwthnError, match="at least 2"):
        split_examples(examples[:1], 0.1, seed=0)
