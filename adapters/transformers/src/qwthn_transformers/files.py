"""Moved to core (`qwthn.files`); kept for imports in flight, removed once they are updated."""

from qwthn.files import write_atomically, write_json_atomically, write_text_atomically

__all__ = ["write_atomically", "write_json_atomically", "write_text_atomically"]
