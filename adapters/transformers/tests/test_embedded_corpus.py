"""The built-in corpus and task: deterministic, arithmetically right, and no held-out leakage."""

from __future__ import annotations

import itertools
import re

from qwthn_transformers.embedded import corpus

HELD_OUT = 200


def test_task_split_is_deterministic_and_disjoint():
    train, held_out = corpus.task_split(2000, HELD_OUT)
    assert (train, held_out) == corpus.task_split(2000, HELD_OUT)
    assert len(train) == 2000 and len(held_out) == HELD_OUT
    assert len({ex.prompt for ex in held_out}) == HELD_OUT
    assert not {ex.prompt for ex in train} & {ex.prompt for ex in held_out}


def test_held_out_set_does_not_depend_on_its_size_or_the_train_split():
    _, small = corpus.task_split(10, 50)
    _, large = corpus.task_split(3000, HELD_OUT)
    assert large[:50] == small


def test_answers_are_the_arithmetic_of_the_story():
    for story in corpus.held_out_stories(HELD_OUT):
        a, b = (int(n) for n in re.findall(r"\d+", story.setup()))
        expected = a - b if story.kind == "give" else a + b
        assert story.problem().response == str(expected) and expected >= 0
        assert story.problem().prompt.endswith("?")


def test_base_corpus_never_asks_questions_nor_tells_held_out_stories():
    documents = list(itertools.islice(corpus.base_documents(1, HELD_OUT), 20_000))
    held_out = {story.setup() for story in corpus.held_out_stories(HELD_OUT)}
    for document in documents:
        assert "?" not in document and "How many" not in document
        sentences = document.split(". ")
        assert f"{sentences[0]}." not in held_out
        assert f"{'. '.join(sentences[:2])}." not in held_out, document


def test_base_corpus_equations_are_correct_and_cover_the_task_range():
    text = " ".join(itertools.islice(corpus.base_documents(1, HELD_OUT), 20_000))
    facts = set()
    for a, op, b, c in re.findall(r"(\d+) (\+|-|plus|minus) (\d+) (?:=|is) (\d+)\.", text):
        a, b, c = int(a), int(b), int(c)
        assert c == (a + b if op in ("+", "plus") else a - b)
        facts.add((a, op in ("+", "plus"), b))
    n = corpus.MAX_OPERAND
    assert all((a, True, b) in facts for a in range(n + 1) for b in range(n + 1))


def test_base_corpus_is_deterministic_per_seed():
    first = list(itertools.islice(corpus.base_documents(3, HELD_OUT), 50))
    assert first == list(itertools.islice(corpus.base_documents(3, HELD_OUT), 50))
    assert first != list(itertools.islice(corpus.base_documents(4, HELD_OUT), 50))
