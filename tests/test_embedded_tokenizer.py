"""The offline byte-level BPE tokenizer: deterministic, lossless, compact on the corpus."""

from __future__ import annotations

import itertools

import pytest

from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded.tokenizer import EOS, train_tokenizer


@pytest.fixture(scope="module")
def documents() -> list[str]:
    return list(itertools.islice(corpus.base_documents(0, 20), 3000))


@pytest.fixture(scope="module")
def tokenizer(documents):
    return train_tokenizer(documents, vocab_size=512)


def test_training_is_deterministic(documents, tokenizer):
    assert train_tokenizer(documents, vocab_size=512).get_vocab() == tokenizer.get_vocab()


@pytest.mark.parametrize("text", ["Tom has 3 apples. He buys 4 more.", "Olá: 12+7 ≠ «x»?\n\ttabs  and  spaces ✓"])
def test_decoding_reproduces_any_text(tokenizer, text):
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.eos_token_id  # EOS doubles as BOS, as between pre-training documents
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    assert tokenizer.unk_token_id is None or tokenizer.unk_token_id not in ids


def test_corpus_words_and_numbers_are_single_tokens(documents, tokenizer):
    words = {word for document in documents for word in document.replace(".", " ").split()}
    numbers = {str(n) for n in range(2 * corpus.MAX_OPERAND + 1)}
    assert numbers <= words
    for word in words:
        assert len(tokenizer(f" {word}", add_special_tokens=False)["input_ids"]) == 1, word


def test_special_tokens(tokenizer):
    assert tokenizer.eos_token == tokenizer.bos_token == EOS
    assert tokenizer.pad_token_id not in (None, tokenizer.eos_token_id)
