"""The offline tokenizer: deterministic, lossless, compact on the corpus, and stable through AutoTokenizer."""

from __future__ import annotations

import itertools

import pytest
from transformers import AutoTokenizer, Qwen2Config

from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded.tokenizer import EOS, PAD, train_tokenizer


@pytest.fixture(scope="module")
def documents() -> list[str]:
    return list(itertools.islice(corpus.base_documents(0, 20), 3000))


@pytest.fixture(scope="module")
def tokenizer(documents):
    return train_tokenizer(documents, vocab_size=512)


TEXTS = ["Tom has 13 apples. He buys 4 more.", "Olá: 12+7 ≠ «x»?\n\ttabs  and  spaces ✓"]


def test_training_is_deterministic(documents, tokenizer):
    assert train_tokenizer(documents, vocab_size=512).get_vocab() == tokenizer.get_vocab()


@pytest.mark.parametrize("text", TEXTS)
def test_decoding_reproduces_any_text(tokenizer, text):
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text


def test_corpus_words_are_single_tokens_and_numbers_digits(documents, tokenizer):
    words = {word for document in documents for word in document.replace(".", " ").split()}
    for word in words:
        pieces = tokenizer.tokenize(f" {word}")
        expected = ["Ġ", *word] if word.isdigit() else [f"Ġ{word}"]  # Qwen2 splits numbers into digits
        assert pieces == expected, word


def test_special_tokens(tokenizer):
    assert (tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token) == (EOS, PAD, None)
    assert tokenizer.eos_token_id != tokenizer.pad_token_id
    assert tokenizer("Tom")["input_ids"] == tokenizer("Tom", add_special_tokens=False)["input_ids"]


def test_auto_tokenizer_reloads_it_identically_next_to_a_qwen2_config(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    Qwen2Config().save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    for text in TEXTS:
        assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert (reloaded.eos_token_id, reloaded.pad_token_id) == (tokenizer.eos_token_id, tokenizer.pad_token_id)
