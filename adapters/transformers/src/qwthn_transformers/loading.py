"""Load a causal LM and its tokenizer from a local directory, a GGUF file (gguf.py) or a Hugging Face hub id.

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

import json
import socket
import struct
import sys
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import constants
from huggingface_hub.utils import disable_progress_bars
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from qwthn.errors import QwthnError
from qwthn.model.persistence import BASE_IDENTITY_ATTRIBUTE, check_base_identity
from qwthn_transformers import gguf

PROBE_TIMEOUT_S = 3.0
REMOTE_CODE_MARK = "trust_remote_code=True"
"""What transformers' refusal to run a model's own code says (dynamic_module_utils.resolve_trust_remote_code)."""
MIN_VOCABULARY = 2
"""Below this a tokenizer was built without its vocabulary files (transformers then makes an empty one)."""


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


def _has_tokenizer_files(path: Path) -> bool:
    """Whether the directory holds a vocabulary in a format transformers reads (tokenizer_config.json is none)."""
    for child in path.iterdir():
        name = child.name.lower()
        if name == "tokenizer_config.json":
            continue
        if name.startswith("tokenizer") or "vocab" in name or name.endswith((".model", ".tiktoken", "merges.txt")):
            return True
    return False


def _safetensors_problem(path: Path) -> str | None:
    """What is wrong with a .safetensors file's header or length (a truncated download), read without loading it."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            length = struct.unpack("<Q", handle.read(8))[0] if size >= 8 else None
            if length is None or length > size - 8:
                return "it is shorter than its own header says"
            header = json.loads(handle.read(length))
    except OSError as error:
        return f"it cannot be read ({error.strerror})"
    except (ValueError, struct.error):
        return "its header is not valid safetensors"
    if not isinstance(header, dict):
        return "its header is not valid safetensors"
    entries = [entry for name, entry in header.items() if name != "__metadata__" and isinstance(entry, dict)]
    ends = [entry["data_offsets"][1] for entry in entries if len(entry.get("data_offsets", ())) == 2]
    needed = 8 + length + max(ends, default=0)
    if size < needed:
        return f"it is truncated ({size:,} of {needed:,} bytes)"
    return None


def check_model_directory(path: Path) -> None:
    """The cheap checks of a local model directory, run before any model loads (and again by the loader).

    A tokenizer-less directory would load as an empty tokenizer and fail much later (an IndexError while
    evaluating); a truncated safetensors file fails at load with a SafetensorError traceback.
    """
    if not path.is_dir():
        raise QwthnError(f"model path {path} is a file but not a .gguf file; pass --model a GGUF file or the "
                         "directory that holds config.json")  # fmt: skip
    if not (path / "config.json").is_file():
        raise QwthnError(f"model directory {path} has no config.json; pass a directory written by save_pretrained")
    if not _has_tokenizer_files(path):
        raise QwthnError(f"model directory {path} has no tokenizer files (tokenizer.json, vocab.json, ...); save the "
                         "model's tokenizer there too (tokenizer.save_pretrained)")  # fmt: skip
    for weights in sorted(path.glob("*.safetensors")):
        problem = _safetensors_problem(weights)
        if problem is not None:
            raise QwthnError(f"model weights {weights} are damaged: {problem}; download or save the model again")


def check_model_path(path: Path) -> None:
    """The cheap checks of a local model, a GGUF file or a model directory, before anything loads."""
    file = gguf.gguf_file(path)
    if file is not None:
        gguf.check_gguf(file)
    else:
        check_model_directory(path)


def _load_local(path: Path, trust_remote_code: bool) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    file = gguf.gguf_file(path)
    if file is not None:
        model, tokenizer = gguf.load_gguf(file)
        model.config._name_or_path = str(file.resolve())  # what adapters record as their base: the file itself
        setattr(model, BASE_IDENTITY_ATTRIBUTE, gguf.identity(file))
        return model, tokenizer
    check_model_directory(path)
    try:
        return _from_pretrained(str(path), local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, SafetensorError) as error:
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


def quiet_progress_off_terminal() -> None:
    """transformers' and the hub's own bars ("Loading weights", "Writing model shards") redraw with \\r, which
    fills a log with one long line; off a terminal they are switched off (qwthn's own progress prints lines)."""
    if sys.stderr.isatty():
        return
    hf_logging.disable_progress_bar()
    disable_progress_bars()


def local_model_path(name: str) -> Path | None:
    """The directory or GGUF file `name` means when it is local (None for a hub id); a known short name
    (`smollm2`, gguf.NAMED_MODELS) means its installed file. Checked the same way by prepare."""
    if not name.strip():
        raise QwthnError("--model is empty; pass a model directory or hub id, or leave --model out for the demo")
    path = Path(name).expanduser()
    if path.exists():
        return path
    named = gguf.named_model_path(name)
    if named is not None:
        return named
    if _looks_local(name):
        raise QwthnError(f"model path {name} does not exist; pass --model an existing directory or a hub id")
    return None


def load_causal_lm(name: str, *, trust_remote_code: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model in eval mode, tokenizer with a pad token) for a local directory, a GGUF file, a known name or a hub id.

    A model from a GGUF file carries its file's identity (name, size, sha256) for the adapters saved on it.

    `trust_remote_code=True` lets a model's own modeling code run; only for a model whose code you have read.
    """
    quiet_progress_off_terminal()
    path = local_model_path(name)
    if path is not None:
        model, tokenizer = _load_local(path, trust_remote_code)
    else:
        model, tokenizer = _load_hub(name, trust_remote_code)
    if len(tokenizer) < MIN_VOCABULARY:
        raise QwthnError(f"the tokenizer of {name} has {len(tokenizer)} token(s): its vocabulary files are missing; "
                         "save the model's own tokenizer with it")  # fmt: skip
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


def check_adapter_base(adapter: Path, name: str) -> None:
    """Before loading `name`: refuse it when it is a GGUF file other than the one the adapter was trained on."""
    path = local_model_path(name)
    file = gguf.gguf_file(path) if path is not None else None
    if file is not None:
        check_base_identity(adapter, gguf.identity(file))
