"""The layering rule, checked on the source: core imports no plugin and no adapter, core's floors import only
downwards, and neither core nor the transformers adapter has an import circle."""

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


ROOT = CORE.parents[2]
PACKAGES = {"qwthn": CORE, "qwthn_transformers": ROOT / "adapters" / "transformers" / "src" / "qwthn_transformers"}

FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("qwthn.errors", "qwthn.validation", "qwthn.files", "qwthn.console", "qwthn.version")),
    ("contract", ("qwthn.contract",)),
    ("registry", ("qwthn.plugins", "qwthn.method_registry")),
    ("runtime", ("qwthn.runtime",)),
    ("methods", ("qwthn.methods",)),
    ("model", ("qwthn.model",)),  # adapters on any torch model: inject, save/load, merge, checkpoint
    ("surface", ("qwthn",)),  # the package's public names, the command line and the test kit
)
"""Core's floors, bottom first: each imports only its own and those below (docs/architecture.md)."""


def _modules() -> dict[str, Path]:
    found = {}
    for root in PACKAGES.values():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root.parent).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    assert set(PACKAGES) <= set(found)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> first-party modules it imports anywhere in its file (late and type-only imports included:
    a circle held apart by a late import is still a circle in the design)."""
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = module.split(".")[: len(module.split(".")) - (node.level - is_package)]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                submodules = [f"{base}.{alias.name}" for alias in node.names]
                # `from package import submodule` imports the submodule, not the package's other contents
                names = submodules if all(name in modules for name in submodules) else [*submodules, base]
            else:
                continue
            targets.update(found for name in names if (found := owner(name)) not in (None, module))
        graph[module] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_in_core_or_the_transformers_adapter():
    graph = import_graph()
    assert len(graph) > 60 and "qwthn.plugins" in graph["qwthn.runtime.executor"]  # the walk sees late imports
    assert circles(graph) == []


def test_circles_are_found_when_there_are_some():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _floor(module: str) -> int | None:
    for level, (_, prefixes) in enumerate(FLOORS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return level
    return None


def test_each_core_floor_imports_only_floors_below():
    upward = [
        f"{module} ({FLOORS[_floor(module)][0]}) imports {target} ({FLOORS[_floor(target)][0]})"
        for module, targets in import_graph().items() if _floor(module) is not None
        for target in targets if _floor(target) is not None and _floor(target) > _floor(module)
    ]  # fmt: skip
    assert upward == []
    assert _floor("qwthn.runtime.dry_run") == 3 and _floor("qwthn.model.inject") == 5
    assert _floor("qwthn.testing.harness") == 6
