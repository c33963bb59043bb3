"""No pickle anywhere in shipped code: a static (ast) scan of every source file, so CI fails on the first
`import pickle`, `torch.load` without `weights_only=True`, `torch.save`, `np.load(allow_pickle=True)`,
`save_pretrained(safe_serialization=False)` or hard-coded `trust_remote_code=True`, and names its file:line.

Why: a pickle runs arbitrary code when loaded, so adapters, checkpoints and caches are safetensors + JSON.
The scanner itself is tested on planted snippets, so a scanner that finds nothing cannot pass silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("core/src", "plugins/*/src", "adapters/*/src", "benchmarks", "scripts", "examples")
SKIPPED_DIRS = {"build", "dist", ".venv", "__pycache__", ".eggs"}
PICKLING_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve"}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted name it stands for (`import torch as t`, `from torch import load`)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """`torch.load` for `t.load` when `t` is torch; None for anything that is not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _top(dotted: str) -> str:
    return dotted.split(".")[0]


def pickle_violations(source: str, filename: str = "<snippet>") -> list[str]:
    """Every pickling construct in `source`, as 'filename:line: what' lines."""
    tree = ast.parse(source, filename=filename)
    aliases = _aliases(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"imports {alias.name}") for alias in node.names
                      if _top(alias.name) in PICKLING_MODULES]  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and node.module and _top(node.module) in PICKLING_MODULES:
            found.append((node.lineno, f"imports from {node.module}"))
        elif isinstance(node, ast.Call):
            problem = _call_problem(node, _dotted(node.func, aliases))
            if problem:
                found.append((node.lineno, problem))
    return [f"{filename}:{line}: {what}" for line, what in sorted(found)]


def _call_problem(call: ast.Call, name: str | None) -> str | None:
    if name in ("importlib.import_module", "__import__") and call.args:
        module = call.args[0]
        if isinstance(module, ast.Constant) and str(module.value).split(".")[0] in PICKLING_MODULES:
            return f"imports {module.value} dynamically"
    if name is not None and _top(name) in PICKLING_MODULES:
        return f"calls {name}"
    if name == "torch.load" and not _is_constant(_keyword(call, "weights_only"), True):
        return "torch.load without weights_only=True (unpickles); use safetensors, or pass weights_only=True"
    if name == "torch.save":
        return "torch.save writes a pickle; use safetensors.torch.save_file"
    if name in ("numpy.load", "np.load"):
        allow = _keyword(call, "allow_pickle")
        if allow is not None and not _is_constant(allow, False):
            return "numpy.load with allow_pickle (unpickles object arrays)"
    if _is_constant(_keyword(call, "trust_remote_code"), True):
        return "trust_remote_code=True hard-coded; a model's own code runs only when the user passes it"
    if isinstance(call.func, ast.Attribute) and call.func.attr == "save_pretrained":
        safe = _keyword(call, "safe_serialization")
        if safe is not None and not _is_constant(safe, True):
            return "save_pretrained without safe_serialization=True writes pytorch_model.bin (a pickle)"
    return None


def shipped_sources() -> list[Path]:
    files = []
    for pattern in SCANNED:
        for folder in sorted(ROOT.glob(pattern)):
            files += [path for path in sorted(folder.rglob("*.py"))
                      if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts)
                      and not any(part.endswith(".egg-info") for part in path.parts)]  # fmt: skip
    return files


@pytest.mark.reliability(
    kind='security', surface='code',
    tried='pickle, torch.load without weights_only, torch.save, hard-coded trust_remote_code anywhere in '
          'shipped code',
    held='none found (AST scan)',
)
def test_no_pickle_in_shipped_code(reliability):
    files = shipped_sources()
    names = {path.relative_to(ROOT).as_posix() for path in files}
    # the scan must really cover the code that writes adapters, checkpoints and caches
    assert {
        "core/src/qwthn/plugins.py",
        "core/src/qwthn/model/persistence.py",
        "core/src/qwthn/model/checkpoint.py",
        "plugins/emulator/src/qwthn_emulator/backend.py",
        "benchmarks/train_step.py",
    } <= names, sorted(names)
    violations = []
    for path in files:
        source = path.read_text(encoding="utf-8")
        violations += pickle_violations(source, path.relative_to(ROOT).as_posix())
    reliability.answer(f"{len(files)} shipped files scanned; {len(violations)} violations: {violations}")
    assert not violations, "pickle in shipped code:\n" + "\n".join(violations)


BAD = [
    ("import pickle", "imports pickle"),
    ("import cPickle as p", "imports cPickle"),
    ("from dill import loads", "imports from dill"),
    ("import joblib.externals", "imports joblib.externals"),
    ("import importlib\nimportlib.import_module('pickle')", "imports pickle dynamically"),
    ("import torch\ntorch.load('x.pt')", "torch.load without weights_only=True"),
    ("import torch\ntorch.load('x.pt', weights_only=False)", "torch.load without weights_only=True"),
    ("import torch as T\nT.load(f, map_location='cpu')", "torch.load without weights_only=True"),
    ("from torch import load\nload('x.pt')", "torch.load without weights_only=True"),
    ("import torch\ntorch.save(model.state_dict(), 'x.pt')", "torch.save writes a pickle"),
    ("import numpy as np\nnp.load('x.npy', allow_pickle=True)", "numpy.load with allow_pickle"),
    ("import numpy\nnumpy.load('x.npy', allow_pickle=flag)", "numpy.load with allow_pickle"),
    ("model.save_pretrained(path, safe_serialization=False)", "save_pretrained without safe_serialization=True"),
    ("AutoModel.from_pretrained(path, trust_remote_code=True)", "trust_remote_code=True hard-coded"),
]
GOOD = [
    "import torch\ntorch.load('x.pt', weights_only=True)",
    "import numpy as np\nnp.load('x.npy')\nnp.load('y.npy', allow_pickle=False)",
    "model.save_pretrained(path)\ntokenizer.save_pretrained(path, safe_serialization=True)",
    "from safetensors.torch import load_file, save_file\nsave_file(tensors, 'a.safetensors')",
    "import json\njson.loads('{}')  # pickle is only mentioned in this comment",
    "task.load()\nentry_point.load()",
    "AutoModel.from_pretrained(path, trust_remote_code=False)\nload(name, trust_remote_code=trust_remote_code)",
]


@pytest.mark.parametrize(("snippet", "expected"), BAD)
def test_the_scan_catches_a_planted_pickle(snippet, expected):
    source = "x = 1\n" + snippet  # so the reported line is not trivially 1
    (violation,) = pickle_violations(source, "planted.py")
    line = len(source.splitlines())
    assert violation.startswith(f"planted.py:{line}: ") and expected in violation, violation


@pytest.mark.parametrize("snippet", GOOD)
def test_the_scan_passes_safe_code(snippet):
    assert pickle_violations(snippet, "clean.py") == []


def test_the_scan_reads_files_from_disk_and_names_file_and_line(tmp_path):
    planted = tmp_path / "leaky.py"
    planted.write_text('"""Doc."""\n\nimport torch\n\n\ndef dump(model):\n    torch.save(model, "m.pt")\n')
    assert pickle_violations(planted.read_text(), "leaky.py") == [
        "leaky.py:7: torch.save writes a pickle; use safetensors.torch.save_file"
    ]
