"""An offline tokenizer for the embedded model: Qwen2's byte-level BPE scheme with a vocabulary trained here.

Byte-level BPE rather than characters or a closed word list: every corpus word becomes one token,
so sequences stay short (the pre-training budget is counted in tokens), decoding reproduces text
exactly (exact match compares strings), and text outside the corpus, such as a user's own
--dataset, still encodes through the 256 byte tokens instead of <unk>. It reuses Qwen2's own
normalizer and pre-tokenizer (digits split one by one, as in Qwen2) and is returned as a
`Qwen2Tokenizer`, because that is what `AutoTokenizer` rebuilds for any model directory whose config
says qwen2: any other scheme would be silently re-tokenised differently after a save and reload.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import Qwen2Tokenizer

EOS = "<|endoftext|>"
PAD = "<|pad|>"


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Qwen2Tokenizer:
    """Train the BPE merges on `texts` through Qwen2's normalizer and pre-tokenizer."""
    pipeline = Qwen2Tokenizer().backend_tokenizer
    backend = Tokenizer(models.BPE())
    backend.normalizer = pipeline.normalizer
    backend.pre_tokenizer = pipeline.pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    model = json.loads(backend.to_str())["model"]
    merges = [tuple(pair) for pair in model["merges"]]
    return Qwen2Tokenizer(vocab=model["vocab"], merges=merges, eos_token=EOS, pad_token=PAD, unk_token=None)
