"""The generated math word problems: deterministic, disjoint splits, correct worked solutions, robust rewrites."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qwthn_transformers.ablation.tasks import MathTask, math_task
from qwthn_transformers.data import chat_prompt
from qwthn_transformers.embedded import base_model
from qwthn_transformers.math_problems import (
    ANSWER_PREFIX,
    MAX_STEPS,
    ROBUSTNESS_BASE,
    VARIATIONS,
    final_number,
    math_splits,
)

LINE = re.compile(r"^(\d+) ([-+x/]) (\d+) = (\d+)\.$")
OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "x": lambda a, b: a * b, "/": lambda a, b: a / b}


@pytest.fixture(scope="module")
def splits():
    return math_splits()


def test_the_splits_are_the_same_on_every_call(splits):
    again = math_splits()
    assert [p.question for p in again.test] == [p.question for p in splits.test]
    assert [p.solution for p in again.train[:50]] == [p.solution for p in splits.train[:50]]


def test_no_problem_is_in_two_splits_by_its_facts_or_its_text(splits):
    keys = {name: {p.key() for p in getattr(splits, name)} for name in ("train", "validation", "test")}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["validation"]
    assert not keys["validation"] & keys["test"]
    texts = [p.question for name in ("train", "validation", "test") for p in getattr(splits, name)]
    assert len(texts) == len(set(texts))


def test_steps_are_one_to_four_in_equal_shares(splits):
    for name in ("train", "validation", "test"):
        counts = collections.Counter(p.n_steps for p in getattr(splits, name))
        assert set(counts) == set(range(1, MAX_STEPS + 1)) and max(counts.values()) - min(counts.values()) <= 1


def test_every_worked_solution_is_correct_arithmetic_ending_in_the_answer(splits):
    for problem in [*splits.train, *splits.test, *splits.robustness]:
        *lines, last = problem.solution.split("\n")
        assert last == f"{ANSWER_PREFIX} {problem.answer}."
        assert len(lines) == problem.n_steps
        for line in lines:
            a, op, b, result = LINE.match(line).groups()
            assert OPS[op](int(a), int(b)) == int(result), line
        assert int(LINE.match(lines[-1]).group(4)) == problem.answer
        assert 0 < problem.answer < 1000


def test_the_robustness_set_rewrites_each_test_problem_three_ways(splits):
    assert len(splits.robustness) == 3 * ROBUSTNESS_BASE
    for index, problem in enumerate(splits.test[:40]):
        first, distracted, other = splits.robustness[3 * index : 3 * index + 3]
        assert [v.variation for v in (first, distracted, other)] == list(VARIATIONS)
        assert first.question.startswith("How many") and first.answer == problem.answer
        assert distracted.answer == problem.answer and len(re.findall(r"\d+", distracted.question)) == len(
            re.findall(r"\d+", problem.question)) + 1  # fmt: skip
        assert other.answer == problem.answer + other.more and other.other in other.question.split("?")[0][-30:]


@pytest.mark.parametrize(("text", "number"), [
    ("3 + 4 = 7.\nThe answer is 7.", 7), ("The answer is 1,200 apples.", 1200), ("first 3 then 12", 12),
    ("The answer is 5. Then 9 more", 5), ("no digits", None), ("The answer is unclear, maybe 4", 4),
])  # fmt: skip
def test_the_final_number_is_read_after_the_last_answer_sentence(text, number):
    assert final_number(text) == number


class ChatTokenizer:
    chat_template = "{{ messages }}"

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert not tokenize and add_generation_prompt
        return f"<user>{messages[0]['content']}</user><assistant>"


def test_questions_are_rendered_in_the_models_chat_format_when_it_has_one():
    assert chat_prompt(ChatTokenizer(), "What is 2 + 3?") == "<user>What is 2 + 3?</user><assistant>"

    class Plain:
        chat_template = None

    assert chat_prompt(Plain(), "What is 2 + 3?") == "What is 2 + 3?"


def test_the_math_task_names_smollm2_and_holds_the_generated_splits():
    task = math_task(sizes={"train": 40, "validation": 8, "test": 12})
    assert isinstance(task, MathTask) and task.model == "smollm2" and task.metric == "final-number accuracy"
    train, validation, test = task.splits()
    assert (len(train), len(validation), len(test)) == (40, 8, 12)
    assert all(example.response.endswith(".") and ANSWER_PREFIX in example.response for example in train)


@pytest.mark.slow
def test_a_one_seed_smollm_math_ablation_runs_on_a_tiny_gguf(tmp_path):
    from tiny_gguf import write_tiny_llama_gguf

    tiny = write_tiny_llama_gguf(tmp_path / "tiny.gguf")
    env = {**os.environ, base_model.CACHE_ENV: str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    output = tmp_path / "ablation"
    result = subprocess.run([sys.executable, "-m", "qwthn", "ablate", "--task", "smollm-math", "--model", str(tiny),
                             "--arms", "lora-r4", "--seeds", "1", "--steps", "2", "--no-noise-sweep", "--output",
                             str(output)], capture_output=True, text=True, env=env, timeout=1200)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((output / "report.json").read_text())
    assert report["metric"] == "final-number accuracy" and set(report["summary"]) == {"lora-r4"}
    assert "word problems" in report["task"]
    base = report["base_model"]
    assert 0.0 <= base["test_metric"] <= 1.0 and set(base["robustness"]) == set(VARIATIONS)
    assert set(report["summary"]["lora-r4"]["robustness"]) == set(VARIATIONS)
    assert "## Base model and robustness" in (output / "report.md").read_text()


def test_smollm_math_refuses_a_dataset_in_one_line(tmp_path):
    from qwthn.errors import QwthnError
    from qwthn_transformers.ablation.plan import AblationOptions, plan

    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n')
    with pytest.raises(QwthnError, match="generates its own word problems"):
        plan(AblationOptions(output=tmp_path / "run", task="smollm-math", dataset=data))
    assert not Path(tmp_path / "run").exists()
