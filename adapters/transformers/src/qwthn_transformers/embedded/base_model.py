"""The embedded base model: a tiny Qwen2 pre-trained here on the built-in corpus, cached on disk.

A real architecture (Qwen2ForCausalLM from a Qwen2Config) so adapters are injected into the same
q_proj/v_proj modules as in full-size models, but small enough to pre-train on two CPU cores in
about a minute. The cache directory is keyed by a hash of everything that determines the weights
(the spec, the source of the corpus, tokenizer, training loop and this module, the torch,
transformers and tokenizers versions) and is written to a staging directory that is renamed into
place only when complete, so an interrupted run never leaves a half-written model behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tokenizers
import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

from qwthn_transformers import train as train_module
from qwthn_transformers.embedded import corpus
from qwthn_transformers.embedded import tokenizer as tokenizer_module
from qwthn_transformers.embedded.tokenizer import train_tokenizer
from qwthn_transformers.train import Batch, TrainResult, TrainSettings, train

CACHE_ENV = "QWTHN_CACHE_DIR"
TOKENIZER_DOCUMENTS = 20_000


@dataclass(frozen=True)
class BaseModelSpec:
    """Everything that determines the pre-trained weights (and so the cache key)."""

    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vocab_size: int = 512
    block_size: int = 64
    batch_size: int = 32
    steps: int = 600
    learning_rate: float = 3e-3
    weight_decay: float = 0.01
    seed: int = 0
    held_out: int = 200
    task_train: int = 2000


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "qwthn")


def cache_key(spec: BaseModelSpec) -> str:
    """Hash of the spec, the source that turns it into weights, and the library versions involved."""
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode())
    for source in (corpus.__file__, tokenizer_module.__file__, train_module.__file__, __file__):
        digest.update(Path(source).read_bytes())
    for module in (torch, transformers, tokenizers):
        digest.update(module.__version__.encode())
    return digest.hexdigest()[:16]


def cache_path(spec: BaseModelSpec) -> Path:
    return cache_root() / f"embedded-qwen2-{cache_key(spec)}"


def build_tokenizer(spec: BaseModelSpec) -> Qwen2Tokenizer:
    """BPE over base documents plus the task's training prompts, so task words are single tokens too."""
    documents = itertools.islice(corpus.base_documents(spec.seed, spec.held_out), TOKENIZER_DOCUMENTS)
    train_split, _ = corpus.task_split(spec.task_train, spec.held_out)
    texts = itertools.chain(documents, (f"{ex.prompt} {ex.response}" for ex in train_split))
    return train_tokenizer(texts, spec.vocab_size)


def build_model(spec: BaseModelSpec, tokenizer: Qwen2Tokenizer) -> Qwen2ForCausalLM:
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.block_size * 4,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(spec.seed)
    return Qwen2ForCausalLM(config)


def packed_batches(spec: BaseModelSpec, tokenizer: Qwen2Tokenizer) -> Iterator[Batch]:
    """Base documents, each closed by EOS, concatenated and cut into full blocks (no padding)."""
    documents = corpus.base_documents(spec.seed + 1, spec.held_out)
    buffer: list[int] = []
    while True:
        needed = spec.batch_size * spec.block_size
        while len(buffer) < needed:
            chunk = list(itertools.islice(documents, 256))
            for ids in tokenizer(chunk, add_special_tokens=False)["input_ids"]:
                buffer.extend([*ids, tokenizer.eos_token_id])
        block, buffer = buffer[:needed], buffer[needed:]
        input_ids = torch.tensor(block).view(spec.batch_size, spec.block_size)
        yield {"input_ids": input_ids, "labels": input_ids}


def pretrain(spec: BaseModelSpec) -> tuple[Qwen2ForCausalLM, Qwen2Tokenizer, TrainResult]:
    tokenizer = build_tokenizer(spec)
    model = build_model(spec, tokenizer)
    settings = TrainSettings(
        steps=spec.steps, learning_rate=spec.learning_rate, warmup_fraction=0.05, weight_decay=spec.weight_decay
    )
    result = train(model, packed_batches(spec, tokenizer), settings, "pre-training base model")
    return model, tokenizer, result


def load_or_pretrain(spec: BaseModelSpec = BaseModelSpec()) -> tuple[Path, bool]:
    """Directory of the cached base model for `spec`, pre-training it first if absent; (path, was_cached)."""
    target = cache_path(spec)
    if target.is_dir():
        return target, True
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    model, tokenizer, result = pretrain(spec)
    staging = root / f".partial-{uuid.uuid4().hex}"
    staging.mkdir()  # unlike mkdtemp's owner-only mode, the finished cache gets the usual umask permissions
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        info = {"spec": dataclasses.asdict(spec), "losses": result.losses, "seconds": result.seconds}
        (staging / "pretraining.json").write_text(json.dumps(info, indent=1))
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent run that finished first
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target, False
