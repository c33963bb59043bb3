"""Load a causal LM and its tokenizer from a local directory or a Hugging Face hub id.

Failures become one-line QwthnErrors. A path that looks local but does not exist is reported as a
missing path (not as a failed hub lookup). A hub id is tried from the local cache first; only if it
is not cached is the hub contacted, after a short reachability check, because on a machine without
network huggingface_hub would otherwise spend about a minute retrying before failing.

Code shipped with a model (an `auto_map` in its config.json pointing at its own modeling file) is
never run unless the caller passes `trust_remote_code=True` (the CLI's `--trust-remote-code`):
`trust_remote_code=False` is passed explicitly, because transformers' default (None) would prompt
on a terminal instead, and its refusal becomes one QwthnError line naming the flag.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import constants
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from qwthn.errors import QwthnError

PROBE_TIMEOUT_S = 3.0
REMOTE_CODE_MARK = "trust_remote_code=True"
"""What transformers' refusal to run a model's own code says (dynamic_module_utils.resolve_trust_remote_code)."""


def _looks_local(name: str) -> bool:
    """Hub ids are 'name' or 'org/name'; a leading ./ ~ / or deeper nesting means a filesystem path."""
    return name.startswith((".", "~", "/")) or name.count("/") > 1 or "\\" in name


def _hub_reachable() -> bool:
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _from_pretrained(
    source: str, local_files_only: bool, trust_remote_code: bool
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, local_files_only=local_files_only, trust_remote_code=trust_remote_code
        )
        model = AutoModelForCausalLM.from_pretrained(
            source, local_files_only=local_files_only, trust_remote_code=trust_remote_code
        )
    except ValueError as error:
        if not trust_remote_code and REMOTE_CODE_MARK in str(error):
            raise QwthnError(
                f"model {source} ships its own Python code (an auto_map in its config), which qwthn does not run "
                "unless asked; read that code, then pass --trust-remote-code (trust_remote_code=True) to run it"
            ) from error
        raise
    return model, tokenizer


def _load_local(path: Path, trust_remote_code: bool) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    if not path.is_dir():
        raise QwthnError(f"model path {path} is a file; pass --model the directory that holds config.json")
    if not (path / "config.json").is_file():
        raise QwthnError(f"model directory {path} has no config.json; pass a directory written by save_pretrained")
    try:
        return _from_pretrained(str(path), local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise QwthnError(f"cannot load a causal LM from {path}: {str(error).splitlines()[0]}") from error


def _load_hub(name: str, trust_remote_code: bool) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    try:
        return _from_pretrained(name, local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError):
        pass  # not (fully) cached: fetch it below
    if not _hub_reachable():
        raise QwthnError(
            f"model '{name}' is not in the local Hugging Face cache and the hub is unreachable (offline); "
            "pass --model a local directory, or connect once to download it"
        )
    try:
        return _from_pretrained(name, local_files_only=False, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise QwthnError(
            f"cannot load '{name}' from the hub: {str(error).splitlines()[0]}; check the model id"
        ) from error


def load_causal_lm(name: str, *, trust_remote_code: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model in eval mode, tokenizer with a pad token) for a local directory or hub id.

    `trust_remote_code=True` lets a model's own modeling code run; only for a model whose code you have read.
    """
    path = Path(name).expanduser()
    if path.exists():
        model, tokenizer = _load_local(path, trust_remote_code)
    elif _looks_local(name):
        raise QwthnError(f"model path {name} does not exist; pass --model an existing directory or a hub id")
    else:
        model, tokenizer = _load_hub(name, trust_remote_code)
    embeddings = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > embeddings:
        raise QwthnError(
            f"the tokenizer of {name} has {len(tokenizer)} tokens but the model embeds only {embeddings}; "
            "save the model's own tokenizer with it"
        )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer
