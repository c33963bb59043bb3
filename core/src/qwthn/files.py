"""Files users hand us and files we write.

Writes are atomic: a temporary file in the same directory, fsynced, then renamed into place, so a
crash or a SIGKILL at any moment leaves either the old file or the new one, never a torn one
(adapters, checkpoints, ablation results, config files). Config files are read as YAML or JSON
with the line and column of any syntax error.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from qwthn.errors import QwthnError


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    """Makes the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """`write(temporary_path)` fills a temporary file, which then replaces `path` in one rename."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, _default_file_mode())  # mkstemp creates 0600; results are shared like any file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))


def write_json_atomically(path: Path, data: object) -> None:
    write_text_atomically(path, json.dumps(data, indent=2) + "\n")


def read_config_file(path: str | Path) -> Any:
    """The YAML or JSON document in `path` (JSON by suffix), or one line saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise QwthnError(f"config file {path} does not exist; pass an existing YAML or JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise QwthnError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise QwthnError(f"config file {path} is not valid JSON (line {error.lineno}, column {error.colno}): "
                         f"{error.msg}") from None  # fmt: skip
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise QwthnError(f"config file {path} is not valid YAML{where}: {reason}") from None
