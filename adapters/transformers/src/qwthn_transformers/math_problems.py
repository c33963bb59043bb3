"""Multi-step arithmetic word problems with worked solutions, generated deterministically, for a real LLM.

The paper's claims are about math reasoning. This is a small, seeded stand-in for GSM8K-style data that
needs no download: each problem is a chain of 1-4 arithmetic steps (+, -, x, /, with exact results)
about one person's objects, told in sentences, with a worked solution that shows each step and ends in
"The answer is N." (the training target). The metric reads the final number only.

Splits are drawn with separate seeds and de-duplicated by their facts (a test problem's numbers and
story never appear in training or validation). The robustness set rewrites each test problem in three
SVAMP-style ways (Patel et al., 2021) that a template matcher gets wrong and a reader gets right:
the question moved to the front, an irrelevant number added, and a question about another quantity.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from qwthn_transformers.data import Example

NAMES = (("Tom", "he", "his"), ("Mia", "she", "her"), ("Ravi", "he", "his"), ("Ana", "she", "her"),
         ("Leo", "he", "his"), ("Zoe", "she", "her"), ("Omar", "he", "his"), ("Ivy", "she", "her"))  # fmt: skip
OTHERS = ("Sam", "Lena", "Noah", "Kate", "Yuki", "Ben")
ITEMS = ("apples", "pencils", "stickers", "marbles", "books", "cookies", "stamps", "coins", "cards", "shells")
MAX_STEPS = 4
SIZES = {"train": 2000, "validation": 200, "test": 300}
SEEDS = {"test": 20261207, "validation": 20261208, "train": 20261209}
VARIATIONS = ("question first", "irrelevant number", "other quantity")
ROBUSTNESS_BASE = 100
"""Test problems rewritten for the robustness set (x3 rewrites: 300 generations, ~4 min for SmolLM2 on 2 cores)."""
ANSWER_PREFIX = "The answer is"


@dataclass(frozen=True)
class Step:
    """One arithmetic step: the sentence that tells it and the operation it asks for."""

    sentence: str
    op: str  # "+", "-", "x" or "/"
    operand: int
    consumes: int = 1
    """Arithmetic steps the sentence needs (a box sentence needs two: a product, then a sum)."""
    factor: int = 0
    """For a box sentence: items per box (the operand is the number of boxes)."""


@dataclass(frozen=True)
class Problem:
    """A word problem's facts; `question`, `solution` and `answer` are derived from them."""

    name: str
    pronoun: str
    item: str
    start: int
    steps: tuple[Step, ...]
    share: int = 0
    """When > 0 the question asks how many each of `share` friends gets (a final division)."""
    distractor: str = ""
    other: str = ""
    more: int = 0
    """When > 0 the question asks about `other`, who has `more` items more than the person at the end."""
    question_first: bool = False
    variation: str = ""

    def values(self) -> list[tuple[str, int]]:
        """Each arithmetic line of the worked solution and the value it gives."""
        value, lines = self.start, []
        for step in self.steps:
            if step.op == "box":
                product = step.operand * step.factor
                lines.append((f"{step.operand} x {step.factor} = {product}", product))
                lines.append((f"{value} + {product} = {value + product}", value + product))
                value += product
            elif step.op == "+":
                lines.append((f"{value} + {step.operand} = {value + step.operand}", value + step.operand))
                value += step.operand
            elif step.op == "-":
                lines.append((f"{value} - {step.operand} = {value - step.operand}", value - step.operand))
                value -= step.operand
            elif step.op == "x":
                lines.append((f"{value} x {step.operand} = {value * step.operand}", value * step.operand))
                value *= step.operand
        if self.share:
            lines.append((f"{value} / {self.share} = {value // self.share}", value // self.share))
            value //= self.share
        if self.more:
            lines.append((f"{value} + {self.more} = {value + self.more}", value + self.more))
        return lines

    @property
    def answer(self) -> int:
        return self.values()[-1][1] if self.values() else self.start

    @property
    def n_steps(self) -> int:
        return len(self.values())

    def _asked(self) -> str:
        if self.more:
            return f"How many {self.item} does {self.other} have?"
        if self.share:
            return f"How many {self.item} does each friend get?"
        return f"How many {self.item} does {self.name} have now?"

    def _facts(self) -> list[str]:
        facts = [f"{self.name} has {self.start} {self.item}."]
        facts += [step.sentence for step in self.steps]
        if self.share:
            facts.append(f"Then {self.pronoun} shares them equally among {self.share} friends.")
        if self.more:
            facts.append(f"{self.other} has {self.more} more {self.item} than {self.name} has at the end.")
        if self.distractor:  # after the story, so no pronoun of it could point at the distractor's person
            facts.append(self.distractor)
        return facts

    @property
    def question(self) -> str:
        asked = self._asked()
        if self.question_first:
            return f"{asked} {' '.join(self._facts())}"
        return f"{' '.join(self._facts())} {asked}"

    @property
    def solution(self) -> str:
        """The worked solution: one line per arithmetic step, then the answer sentence (the training target)."""
        lines = [f"{line}." for line, _ in self.values()]
        return "\n".join([*lines, f"{ANSWER_PREFIX} {self.answer}."])

    def key(self) -> tuple:
        """The facts that make two problems the same problem, whatever their wording."""
        return (self.name, self.item, self.start, tuple((s.op, s.operand, s.factor) for s in self.steps), self.share)

    def example(self) -> Example:
        return Example(prompt=self.question, response=self.solution)


def _step(rng: random.Random, value: int, person: str, pronoun: str, item: str) -> Step:
    """One random event that keeps the count a positive whole number below 1,000."""
    kinds = ["+", "-", "box"] + (["x"] if value <= 60 else [])
    kind = rng.choice(kinds)
    if kind == "-" and value > 3:
        amount = rng.randint(2, max(2, value - 1))
        other = rng.choice(OTHERS)
        return Step(f"{pronoun.capitalize()} gives {amount} to {other}.", "-", amount)
    if kind == "box":
        boxes, per_box = rng.randint(2, 6), rng.randint(3, 12)
        return Step(f"{pronoun.capitalize()} buys {boxes} boxes with {per_box} {item} in each.", "box", boxes,
                    consumes=2, factor=per_box)  # fmt: skip
    if kind == "x":
        factor = rng.randint(2, 4)
        word = {2: "doubles", 3: "triples", 4: "quadruples"}[factor]
        return Step(f"{pronoun.capitalize()} {word} {'his' if pronoun == 'he' else 'her'} {item}.", "x", factor)
    amount = rng.randint(3, 75)
    verb = rng.choice(("buys", "finds", "is given", "wins"))
    return Step(f"{pronoun.capitalize()} {verb} {amount} more.", "+", amount)


def random_problem(rng: random.Random, n_steps: int) -> Problem:
    """A problem of exactly `n_steps` arithmetic steps (1-4)."""
    name, pronoun, _ = rng.choice(NAMES)
    item = rng.choice(ITEMS)
    while True:
        start, steps, used = rng.randint(8, 120), [], 0
        value = start
        while used < n_steps:
            step = _step(rng, value, name, pronoun, item)
            if used + step.consumes > n_steps:
                continue
            steps.append(step)
            used += step.consumes
            value = Problem(name, pronoun, item, start, tuple(steps)).answer
        problem = Problem(name, pronoun, item, start, tuple(steps))
        if n_steps >= 2 and steps[-1].consumes == 1 and rng.random() < 0.25:
            before = Problem(name, pronoun, item, start, tuple(steps[:-1])).answer
            divisors = [d for d in range(2, 9) if before % d == 0]
            if divisors:  # the last step becomes an equal share when the count divides
                problem = Problem(name, pronoun, item, start, tuple(steps[:-1]), share=rng.choice(divisors))
        if 0 < problem.answer < 1000 and all(v > 0 for _, v in problem.values()):
            return problem


def _draw(seed: int, size: int, taken: set[tuple]) -> list[Problem]:
    """`size` problems, steps 1..MAX_STEPS in equal shares, none whose facts are in `taken` (which grows)."""
    rng, problems = random.Random(seed), []
    while len(problems) < size:
        problem = random_problem(rng, 1 + len(problems) % MAX_STEPS)
        if problem.key() in taken:
            continue
        taken.add(problem.key())
        problems.append(problem)
    return problems


def variations(problem: Problem, index: int) -> Iterator[Problem]:
    """The three SVAMP-style rewrites of one test problem (deterministic per index)."""
    rng = random.Random(index)
    yield replace(problem, question_first=True, variation=VARIATIONS[0])
    others = [item for item in ITEMS if item != problem.item]
    distractor = f"{rng.choice(OTHERS)} has {rng.randint(3, 90)} {rng.choice(others)}."
    yield replace(problem, distractor=distractor, variation=VARIATIONS[1])
    yield replace(problem, other=rng.choice(OTHERS), more=rng.randint(2, 40), variation=VARIATIONS[2])


@dataclass(frozen=True)
class MathSplits:
    train: list[Problem]
    validation: list[Problem]
    test: list[Problem]
    robustness: list[Problem]


def math_splits(sizes: dict[str, int] | None = None) -> MathSplits:
    """The fixed splits: test drawn first, then validation and train without any problem of the earlier ones."""
    sizes = {**SIZES, **(sizes or {})}
    taken: set[tuple] = set()
    test = _draw(SEEDS["test"], sizes["test"], taken)
    validation = _draw(SEEDS["validation"], sizes["validation"], taken)
    train = _draw(SEEDS["train"], sizes["train"], taken)
    robustness = [variant for index, problem in enumerate(test[:ROBUSTNESS_BASE])
                  for variant in variations(problem, index)]  # fmt: skip
    return MathSplits(train, validation, test, robustness)


NUMBER = re.compile(r"-?\d[\d,]*")


def final_number(text: str) -> int | None:
    """The first number after the last "The answer is", else the last number in the text; None when there is none."""
    if ANSWER_PREFIX in text:
        after = NUMBER.findall(text.rsplit(ANSWER_PREFIX, 1)[1])
        if after:
            return int(after[0].replace(",", ""))
    found = NUMBER.findall(text)
    return int(found[-1].replace(",", "")) if found else None
