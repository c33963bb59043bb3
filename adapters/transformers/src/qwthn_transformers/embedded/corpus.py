"""Deterministic text for the embedded demo: a base corpus and a math word-problem task.

The base corpus teaches the skill the task needs (addition/subtraction facts, and short stories in
which people gain or lose objects and the new count is stated) but never the task's format: no
questions, no prompt/answer pairs. So the pre-trained model knows the arithmetic yet does not
answer "How many ...?" with a bare number, and an adapter has to learn that mapping.

The held-out problems are fixed (independent of the fine-tuning seed) and excluded both from the
task's training split and, as stories, from the base corpus.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from qwthn_transformers.data import Example

NAMES: dict[str, str] = {
    "Tom": "He", "Ben": "He", "Sam": "He", "Max": "He", "Leo": "He", "Jack": "He",
    "Mia": "She", "Ava": "She", "Lily": "She", "Zoe": "She", "Emma": "She", "Ella": "She",
}  # fmt: skip
OBJECTS = ("apples", "pens", "books", "coins", "cards", "eggs", "shells", "stamps", "marbles", "cookies")
PLACES = ("table", "desk", "shelf", "floor", "bed", "chair")
ADJECTIVES = ("red", "blue", "green", "small", "big", "old", "new")
MAX_OPERAND = 9
KINDS = ("buy", "give", "find", "together")

HELD_OUT_SEED = 20240613
TRAIN_SEED = 7


@dataclass(frozen=True)
class Story:
    """One word problem's facts; the same facts render as a base-corpus story or a task question."""

    kind: str
    name: str
    other: str
    item: str
    a: int
    b: int

    @property
    def answer(self) -> int:
        return self.a - self.b if self.kind == "give" else self.a + self.b

    def setup(self) -> str:
        """The shared first sentences: what happens, without the result."""
        pronoun = NAMES[self.name]
        if self.kind == "buy":
            return f"{self.name} has {self.a} {self.item}. {pronoun} buys {self.b} more."
        if self.kind == "give":
            return f"{self.name} has {self.a} {self.item}. {pronoun} gives {self.b} to {self.other}."
        if self.kind == "find":
            return f"{self.name} has {self.a} {self.item}. {pronoun} finds {self.b} more."
        return f"{self.name} has {self.a} {self.item} and {self.other} has {self.b} {self.item}."

    def narrative(self, variant: int, filler: str) -> str:
        """Base-corpus form: the result is stated, never asked for, in one of several wordings.

        Varied wordings put the count after different words, so the pre-trained model learns to
        compute it wherever a count is due rather than only after one fixed phrase.
        """
        c, item = self.answer, self.item
        if self.kind == "together":
            endings = (
                f"Together they have {c} {item}.",
                f"They have {c} {item} together.",
                f"That makes {c} {item}.",
                f"In all there are {c} {item}.",
            )
        else:
            endings = (
                f"Now {self.name} has {c} {item}.",
                f"{self.name} now has {c} {item}.",
                f"That makes {c} {item}.",
                f"So {self.name} has {c} {item} now.",
            )
        return " ".join(part for part in (self.setup(), filler, endings[variant % len(endings)]) if part)

    def problem(self) -> Example:
        """Task form: a question answered by the bare number."""
        if self.kind == "together":
            question = f"How many {self.item} do they have together?"
        else:
            question = f"How many {self.item} does {self.name} have now?"
        return Example(prompt=f"{self.setup()} {question}", response=str(self.answer))


def random_story(rng: random.Random) -> Story:
    kind = rng.choice(KINDS)
    name, other = rng.sample(sorted(NAMES), 2)
    a = rng.randint(2, MAX_OPERAND)
    b = rng.randint(1, a) if kind == "give" else rng.randint(1, MAX_OPERAND)
    # Stories that do not mention a second person keep it empty, so equal text means equal Story.
    return Story(kind, name, other if kind in ("give", "together") else "", rng.choice(OBJECTS), a, b)


def _unique_stories(rng: random.Random, count: int, exclude: frozenset[Story]) -> list[Story]:
    stories: dict[Story, None] = {}
    while len(stories) < count:
        story = random_story(rng)
        if story not in exclude:
            stories.setdefault(story)
    return list(stories)


def held_out_stories(count: int) -> list[Story]:
    """The fixed evaluation problems (the same for every fine-tuning seed)."""
    return _unique_stories(random.Random(HELD_OUT_SEED), count, frozenset())


def task_split(n_train: int, n_held_out: int) -> tuple[list[Example], list[Example]]:
    """(train, held_out) word problems; no held-out story is in the training split."""
    held_out = held_out_stories(n_held_out)
    train = _unique_stories(random.Random(TRAIN_SEED), n_train, frozenset(held_out))
    return [story.problem() for story in train], [story.problem() for story in held_out]


def _equations(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(2, 4)):
        a = rng.randint(0, MAX_OPERAND)
        if rng.random() < 0.5:
            b = rng.randint(0, MAX_OPERAND)
            parts.append(f"{a} + {b} = {a + b}." if rng.random() < 0.7 else f"{a} plus {b} is {a + b}.")
        else:
            b = rng.randint(0, a)
            parts.append(f"{a} - {b} = {a - b}." if rng.random() < 0.7 else f"{a} minus {b} is {a - b}.")
    return " ".join(parts)


def _plain_sentence(rng: random.Random, with_count: bool) -> str:
    """A sentence about people and objects; only `with_count` ones mention a number."""
    name, other = rng.sample(sorted(NAMES), 2)
    item = rng.choice(OBJECTS)
    if with_count:
        return f"{name} has {rng.randint(1, MAX_OPERAND * 2)} {item}."
    return rng.choice((
        f"{name} likes {item}.",
        f"The {item} are on the {rng.choice(PLACES)}.",
        f"{name} and {other} are friends.",
        f"{NAMES[name]} has {rng.choice(ADJECTIVES)} {item}.",
        f"{name} has many {item}.",
        f"{name} does not have {item} now.",
        f"{name} and {other} do not like {item}. They play together.",
    ))  # fmt: skip


def base_documents(seed: int, held_out: int) -> Iterator[str]:
    """An endless stream of short documents: equations, stories with stated results, plain sentences.

    Stories carry 0-2 number-free filler sentences before the result, so the model learns to find
    the counts by content rather than at a fixed distance. Stories whose facts match one of the
    first `held_out` evaluation problems are skipped.
    """
    rng = random.Random(seed)
    excluded = frozenset(held_out_stories(held_out))
    while True:
        roll = rng.random()
        if roll < 0.35:
            yield _equations(rng)
        elif roll < 0.85:
            story = random_story(rng)
            filler = [_plain_sentence(rng, with_count=False) for _ in range(rng.randint(0, 2))]
            if story not in excluded:
                yield story.narrative(rng.randrange(4), " ".join(filler))
        else:
            yield " ".join(_plain_sentence(rng, with_count=rng.random() < 0.3) for _ in range(rng.randint(2, 3)))
