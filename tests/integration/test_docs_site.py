"""The docs site builds with `mkdocs build --strict`, with the CLI reference generated from the `qwthn` command
and the Python API reference generated from docstrings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("material", reason="the docs tools come with requirements-dev.txt")
pytest.importorskip("mkdocstrings_handlers.python", reason="the docs tools come with requirements-dev.txt")

ROOT = Path(__file__).resolve().parents[2]
LIST_COMMANDS = """
import typer
from qwthn.cli import app
from qwthn.plugins import host
host.register_commands(app)
print("\\n".join(typer.main.get_command(app).commands))
"""


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


def test_cli_reference_has_every_registered_command_and_its_options(site):
    cli = page(site, "reference/cli")
    installed = subprocess.run(
        [sys.executable, "-c", LIST_COMMANDS], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert {"backends", "finetune", "evaluate", "dequantize", "ablate"} <= set(installed)
    for command in installed:
        assert f'id="qwthn-{command}"' in cli, command
    for option in ("--resume", "--dry-run", "--backend", "--shots", "--trust-remote-code", "--json", "--smoke"):
        assert f"<code>{option}</code>" in cli, option
    assert "runs/finetune-&lt;time&gt;" in cli  # help text shown as written, not swallowed as an HTML tag


def test_api_reference_is_generated_from_docstrings(site):
    core = page(site, "reference/api/qwthn")
    for name in ("inject_adapter", "save_adapter", "load_adapter", "from_pretrained", "merge_and_unload"):
        assert re.search(rf'id="qwthn\.model\.\w+\.{name}"', core), name
    transformers = page(site, "reference/api/transformers")
    assert re.search(r'id="qwthn_transformers\.trainer\.QwthnTrainer"', transformers)
    contract = page(site, "reference/api/contract")
    assert 'id="qwthn.contract.backend.QuantumBackend"' in contract
    assert 'id="qwthn.contract.hookspecs.qwthn_register_backends"' in contract
    assert "&lt;Z_w&gt;" in contract  # docstring notation escaped, not lost
    for name in ("qwthn.config.QWTHNConfig.n_qubits", "RuntimeConfig.shots", "get_backend", "QwthnError"):
        assert name in core, name


def test_pages_of_the_nav_are_built(site):
    for path in ("getting-started", "algorithm", "backends", "ablation", "plugins", "benchmarks",
                 "results/ablation-demo/report"):  # fmt: skip
        assert (site / path / "index.html").is_file(), path
    assert (site / "results/ablation-demo/test_metric.png").is_file()
    assert not (site / "hooks").exists()  # the build hooks are not published
