"""Files users hand us and files we write.

Writes are atomic: a temporary file in the same directory, fsynced, then renamed into place, so a
crash or a SIGKILL at any moment leaves either the old file or the new one, never a torn one
(adapters, checkpoints, ablation results, config files). Config files are read as YAML or JSON
with the line and column of any syntax error.

Every command that writes a file follows one rule (`check_output_file`, `write_output_file`): the
path is checked before any work (not empty, not a directory, a supported suffix, a writable place),
missing parent directories are created, and the file appears whole or not at all. Text files users
hand us are read by `read_user_text`, whose hints name the actual problem (gzip, UTF-16, a
byte-order mark is simply accepted).
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


GZIP_MAGIC = b"\x1f\x8b"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_user_text(path: Path, what: str) -> str:
    """A user's text file as str; a UTF-8 byte-order mark is dropped, other encodings named in one line.

    `what` names the file in messages, e.g. "dataset" or "config file".
    """
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise QwthnError(f"{what} {path} is a directory; pass a file") from None
    except OSError as error:
        raise QwthnError(f"cannot read {what} {path}: {error.strerror}; check it exists and its permissions") from None
    if data.startswith(GZIP_MAGIC):
        raise QwthnError(f"{what} {path} is gzip-compressed; decompress it first (gunzip -k {path})")
    if data.startswith(UTF16_BOMS):
        raise QwthnError(f"{what} {path} is UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise QwthnError(f"{what} {path} is not UTF-8 (line {line}, byte {error.start}); save it as UTF-8") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that refuses a key written twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key}'; keep one of them", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _unique_json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"duplicate key '{key}'; keep one of them")
    return dict(pairs)


def read_config_file(path: str | Path) -> Any:
    """The YAML or JSON document in `path` (JSON by suffix), or one line saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise QwthnError(f"config file {path} does not exist; pass an existing YAML or JSON file")
    text = read_user_text(path, "config file")
    try:
        if path.suffix == ".json":
            return json.loads(text, object_pairs_hook=_unique_json_object)
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except json.JSONDecodeError as error:
        raise QwthnError(f"config file {path} is not valid JSON (line {error.lineno}, column {error.colno}): "
                         f"{error.msg}") from None  # fmt: skip
    except ValueError as error:  # a duplicate JSON key
        raise QwthnError(f"config file {path}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise QwthnError(f"config file {path} is not valid YAML{where}: {reason}") from None


def check_writable(path: Path, flag: str) -> None:
    """Create-and-remove a probe in the nearest existing parent: permissions, read-only mounts, root alike."""
    parent = Path(path)
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise QwthnError(f"cannot write {path}: {parent} is a file, not a directory; pass a {flag} path "
                         "under a directory")  # fmt: skip
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".qwthn-probe-", dir=parent))
    except OSError as error:
        raise QwthnError(f"cannot write {path}: creating a directory in {parent} failed ({error.strerror}); "
                         f"pass a writable {flag}") from None  # fmt: skip


def check_output_file(path: Path, flag: str, suffixes: tuple[str, ...] = (), replace: bool = True) -> Path:
    """Everything about a file a command will write that can be known before the work starts.

    `suffixes` (lower case, with the dot) are the formats the command writes; `replace=False` refuses
    an existing file. Missing parent directories are fine: `write_output_file` creates them.
    """
    path = Path(path)
    if str(path) in ("", "."):
        raise QwthnError(f"{flag} is empty; pass a file path, or leave {flag} out for its default")
    if path.is_dir():
        example = f"{path / ('output' + (suffixes[0] if suffixes else ''))}"
        raise QwthnError(f"{flag} {path} is a directory; pass a file path, e.g. {example}")
    if suffixes and path.suffix.lower() not in suffixes:
        raise QwthnError(f"{flag} {path}: unsupported format '{path.suffix or '(none)'}'; end the name with one "
                         f"of {', '.join(suffixes)}")  # fmt: skip
    if not replace and path.exists():
        raise QwthnError(f"{path} already exists; pass a new {flag} or delete it first")
    check_writable(path, flag)
    return path


def write_output_file(path: Path, write: Callable[[str], None], flag: str) -> Path:
    """Write a command's output file atomically, creating missing parent directories (the one rule)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, write)
    except OSError as error:
        raise QwthnError(f"cannot write {path}: {error.strerror or error}; pass a writable {flag}") from None
    return path
