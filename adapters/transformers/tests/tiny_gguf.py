"""A tiny Llama-architecture GGUF file written with the `gguf` package: random weights, a byte-level BPE vocabulary.

Shaped like SmolLM2's file (llama architecture, a gpt2-style tokenizer with <|im_start|>/<|im_end|> and a
chat template, tied embeddings), at a few layers and width 32, so CI exercises the GGUF path without the
98 MB download. Weights are float32: the reader's dequantization is not what these tests check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MERGES = ["Ġ t", "h e", "Ġt he", "i s", "Ġ a", "e r"]


def byte_symbols() -> list[str]:
    """GPT-2's printable stand-in for each byte (the byte-level BPE alphabet)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    symbols, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            symbols[byte] = chr(byte)
        else:
            symbols[byte] = chr(256 + extra)
            extra += 1
    return [symbols[byte] for byte in range(256)]


def write_tiny_llama_gguf(path: Path, *, layers: int = 2, width: int = 32, heads: int = 4, kv_heads: int = 2,
                          ffn: int = 64, seed: int = 0) -> Path:  # fmt: skip
    """Write the file and return its path; `seed` changes the weights (and so the file's sha256)."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    tokens = SPECIAL + byte_symbols() + ["".join(merge.split()) for merge in MERGES]
    types = [gguf.TokenType.CONTROL] * len(SPECIAL) + [gguf.TokenType.NORMAL] * (len(tokens) - len(SPECIAL))
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny llama for tests")
    writer.add_context_length(256)
    writer.add_embedding_length(width)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(width // heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    rng = np.random.default_rng(seed)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    head = width // heads
    writer.add_tensor("token_embd.weight", weight(len(tokens), width))
    writer.add_tensor("output_norm.weight", np.ones(width, dtype=np.float32))
    for block in range(layers):
        prefix = f"blk.{block}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(width, dtype=np.float32))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(width, dtype=np.float32))
        writer.add_tensor(prefix + "attn_q.weight", weight(width, width))
        writer.add_tensor(prefix + "attn_k.weight", weight(kv_heads * head, width))
        writer.add_tensor(prefix + "attn_v.weight", weight(kv_heads * head, width))
        writer.add_tensor(prefix + "attn_output.weight", weight(width, width))
        writer.add_tensor(prefix + "ffn_gate.weight", weight(ffn, width))
        writer.add_tensor(prefix + "ffn_up.weight", weight(ffn, width))
        writer.add_tensor(prefix + "ffn_down.weight", weight(width, ffn))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_unsupported_gguf(path: Path, architecture: str = "qwthn-unknown-arch") -> Path:
    """A well-formed GGUF file of an architecture transformers has no reader for."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
