"""The layering rule, checked on the source: core imports no plugin and no adapter."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core" / "src" / "qwthn"


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_core_imports_no_plugin_or_adapter():
    offenders = {
        str(path.relative_to(CORE)): sorted(m for m in imported_modules(path) if m.startswith("qwthn_"))
        for path in CORE.rglob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}
    assert len(offenders) > 20  # the walk really saw core's modules
