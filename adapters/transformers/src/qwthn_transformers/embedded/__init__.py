"""The offline demo behind a bare `qwthn finetune`: a tiny Qwen2 pre-trained here, and its task.

`corpus` generates the base corpus and the math word problems, `tokenizer` trains the byte-level
BPE tokenizer, and `base_model` pre-trains and caches the model. Nothing here touches the network.
"""
