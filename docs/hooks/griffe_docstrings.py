"""Griffe extension for the API reference: makes the project's prose docstrings render as written.

- A pydantic field's `Field(description=...)` becomes its docstring. The project documents config fields
  (`QWTHNConfig.n_qubits`, `RuntimeConfig.shots`, `Capabilities.max_batch`, ...) there, which pydantic shows
  in its JSON schema but griffe does not read; without this, mkdocstrings leaves every field out (it hides
  members without a docstring).
- Docstrings are plain prose, rendered as Markdown: notation such as `<Z_i>` or `<cotangent, f>` outside
  backticks would be taken for an HTML tag and vanish, so it is escaped (code spans and indented code
  blocks are left as they are).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_CODE_SPAN = re.compile(r"(`+[^`]*`+)")
_TAG_LIKE = re.compile(r"<(?=[A-Za-z/!?])([^<>\n]*)>")


def _escape_line(line: str) -> str:
    parts = _CODE_SPAN.split(line)
    for index in range(0, len(parts), 2):  # the even parts are outside code spans
        parts[index] = _TAG_LIKE.sub(r"&lt;\1&gt;", parts[index])
    return "".join(parts)


def escape_angle_brackets(text: str) -> str:
    """Escape tag-like `<...>` in prose, outside code spans, fenced blocks and indented code blocks."""
    lines, fenced, previous_blank = [], False, True
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
        in_code = fenced or (line.startswith(("    ", "\t")) and previous_blank)
        lines.append(line if in_code or stripped.startswith(("```", "~~~")) else _escape_line(line))
        # an indented block continues while lines stay indented
        previous_blank = not stripped or (in_code and not fenced)
    return "\n".join(lines)


def _field_description(node: Any) -> str | None:
    value = getattr(node, "value", None)
    if not isinstance(value, ast.Call):
        return None
    function = value.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    if name != "Field":
        return None
    for keyword in value.keywords:
        if keyword.arg == "description":
            try:
                description = ast.literal_eval(keyword.value)
            except ValueError:
                return None
            return description if isinstance(description, str) and description.strip() else None
    return None


class ProseDocstrings(griffe.Extension):
    def on_attribute_instance(self, *, node: Any, attr: griffe.Attribute, agent: Any, **kwargs: Any) -> None:
        if attr.docstring is not None or not isinstance(node, ast.AST):
            return
        description = _field_description(node)
        if description is not None:
            lineno = getattr(node, "lineno", None)
            attr.docstring = griffe.Docstring(description, lineno=lineno, endlineno=lineno, parent=attr)

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is not None and "<" in docstring.value:
            docstring.value = escape_angle_brackets(docstring.value)
