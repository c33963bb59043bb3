"""What a user gets from `pip install "qwthn[X]"`: wheels built from this checkout, each extra in its own fresh venv.

The development install is editable and holds every distribution and SDK at once, so it cannot show a
missing dependency, a broken extra or a wheel that leaves a file out. Here each extra is installed from
wheels of the checkout (their dependencies from the package registry, with pip's configured index),
then used: `qwthn backends`, one `QuantumLayer` forward and backward on the extra's backend, for
[transformers] a two-step `qwthn finetune`, and the hint a missing extra gives.

torch is installed first in each venv (`TORCH_SPEC`, as scripts/install.sh), so that nothing resolves
`torch>=2.1` to a multi-GB CUDA build. uv creates and fills the venvs when it is installed (one cache,
hardlinked: a venv with torch costs seconds); otherwise `python -m venv` and pip.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import qwthn
from qwthn import QuantumLayer, Runtime, get_backend
from qwthn.methods.qwthn.ansatz import build_qnn_circuit

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "core", *sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml")),
           ROOT / "adapters" / "transformers"]  # fmt: skip
TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")
EXTRAS = {  # extra -> the backend its venv must run
    "emulator": "emulator", "qiskit": "qiskit", "cirq": "cirq", "braket": "braket", "pennylane": "pennylane",
    "wukong": "wukong", "transformers": "emulator",
}  # fmt: skip
EXACT = {"emulator", "qiskit", "cirq", "braket", "pennylane"}  # default options give exact expectation values
TIMINGS: dict[str, float] = {}

LAYER_SCRIPT = """
import json, sys, torch
from qwthn import QuantumLayer, Runtime, get_backend
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
inputs = torch.tensor(json.loads(sys.argv[2]), dtype=torch.float32, requires_grad=True)
layer = QuantumLayer(build_qnn_circuit(2, 1), Runtime(get_backend(sys.argv[1])), init_seed=0)
outputs = layer(inputs)
outputs.sum().backward()
print(json.dumps({"outputs": outputs.tolist(), "weights_grad": layer.weights.grad.tolist(),
                  "inputs_grad": inputs.grad.tolist()}))
"""
INPUTS = [[0.3, -1.1], [2.0, 0.5], [-0.7, 0.9]]


def _pip_index_options() -> list[str]:
    """pip's configured indexes and find-links (files and PIP_* variables), as uv options: the same registry."""
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    values: dict[str, str] = {}
    for line in listed.splitlines():  # "global.extra-index-url='a b'", ":env:.find-links='/x'"; later lines win
        key, _, value = line.partition("=")
        values[key.rpartition(".")[2]] = value.strip("'\"")
    options = [f"--index-url={values['index-url']}"] if "index-url" in values else []
    options += [f"--extra-index-url={url}" for url in values.get("extra-index-url", "").split()]
    options += [f"--find-links={path}" for path in values.get("find-links", "").split()]
    return options


class Installer:
    """Fresh venvs and installs into them: uv (shared cache, pip's indexes) when it is installed, else pip."""

    def __init__(self) -> None:
        self.uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
        self.index = [*_pip_index_options(), "--index-strategy=unsafe-best-match"]  # pick across indexes, as pip

    def venv(self, path: Path) -> Path:
        if self.uv:
            _run([self.uv, "venv", "--quiet", "--python", sys.executable, str(path)])
        else:
            _run([sys.executable, "-m", "venv", str(path)])
        return path / "bin" / "python"

    def install(self, python: Path, *arguments: str) -> None:
        if self.uv:
            _run([self.uv, "pip", "install", "--quiet", "--python", str(python), *self.index, *arguments])
        else:
            _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *arguments])


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, **kwargs)
    assert result.returncode == 0, f"{shlex.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of every distribution's source: the build leaves nothing in the checkout, and edits made while
    the test runs (the working tree is shared) do not change what the wheels are compared with."""
    copies = tmp_path_factory.mktemp("sources")
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "tests")
    for source in SOURCES:
        shutil.copytree(source, copies / source.name, ignore=ignore)
    return copies


@pytest.fixture(scope="module")
def wheels(sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of every distribution, built from the copies of the sources."""
    out = tmp_path_factory.mktemp("wheels")
    started = time.monotonic()
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
          str(out), *(str(sources / source.name) for source in SOURCES)])  # fmt: skip
    TIMINGS["build wheels"] = time.monotonic() - started
    assert len(list(out.glob("*.whl"))) == len(SOURCES)
    return out


@pytest.fixture(scope="module")
def installer() -> Installer:
    return Installer()


@pytest.fixture(scope="module", autouse=True)
def report_timings():
    yield
    if TIMINGS:  # shown with -s or in the log: what this costs CI
        print("\nwheel install timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in TIMINGS.items()))


def _reference() -> dict:
    """The same layer on the development install's emulator: what an exact backend must compute."""
    inputs = torch.tensor(INPUTS, requires_grad=True)
    layer = QuantumLayer(build_qnn_circuit(2, 1), Runtime(get_backend("emulator")), init_seed=0)
    outputs = layer(inputs)
    outputs.sum().backward()
    return {"outputs": outputs.tolist(), "weights_grad": layer.weights.grad.tolist(),
            "inputs_grad": inputs.grad.tolist()}


def _tiny_model_and_dataset(root: Path) -> tuple[Path, Path]:
    """A tiny Qwen2 and its tokenizer saved as a user's model directory, and a JSONL dataset."""
    from qwthn_transformers.embedded import base_model, corpus
    from qwthn_transformers.embedded.base_model import BaseModelSpec
    from qwthn_transformers.embedded.tokenizer import train_tokenizer

    spec = BaseModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=320, block_size=32, batch_size=4, steps=10)  # fmt: skip
    tokenizer = train_tokenizer(itertools.islice(corpus.base_documents(0, 10), 500), vocab_size=300)
    model_dir = root / "model"
    base_model.build_model(spec, tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    dataset = root / "data.jsonl"
    dataset.write_text("".join(json.dumps({"prompt": f"{i} + 1 =", "response": str(i + 1)}) + "\n" for i in range(20)))
    return model_dir, dataset


@pytest.mark.parametrize("extra", list(EXTRAS))
def test_extra_installs_from_wheels_and_runs(
    extra: str, sources: Path, wheels: Path, installer: Installer, tmp_path: Path
) -> None:
    backend = EXTRAS[extra]
    started = time.monotonic()
    python = installer.venv(tmp_path / "venv")
    installer.install(python, TORCH_SPEC)
    installer.install(python, f"qwthn[{extra}]=={qwthn.__version__}", f"--find-links={wheels}")
    TIMINGS[f"install [{extra}]"] = time.monotonic() - started
    bin_dir = python.parent
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "QWTHN_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("PYTHONPATH", "QWTHN_PLUGINS", "QWTHN_BLOCK_PLUGINS", "VIRTUAL_ENV"):
        env.pop(name, None)

    # the venv runs the wheels' code, not the checkout's nor anything from the registry under the same name
    where = _run([str(python), "-c", "import qwthn.plugins as p; print(p.__file__)"], env=env).stdout.strip()
    assert where.startswith(str(tmp_path))
    assert Path(where).read_text() == (sources / "core/src/qwthn/plugins.py").read_text()

    listing = json.loads(_run([str(bin_dir / "qwthn"), "backends", "--json"], env=env).stdout)
    assert backend in {entry["name"] for entry in listing["backends"]}
    assert listing["broken_plugins"] == []

    result = json.loads(_run([str(python), "-c", LAYER_SCRIPT, backend, json.dumps(INPUTS)], env=env).stdout)
    ours = {key: torch.tensor(value) for key, value in result.items()}
    assert all(torch.isfinite(value).all() for value in ours.values())
    assert ours["weights_grad"].abs().sum() > 0 and ours["inputs_grad"].abs().sum() > 0
    if backend in EXACT:
        for key, expected in _reference().items():
            torch.testing.assert_close(ours[key], torch.tensor(expected), atol=1e-4, rtol=1e-4, msg=key)

    missing = "cirq" if extra == "qiskit" else "qiskit"  # a backend whose extra this venv lacks
    if extra == "transformers":
        model_dir, dataset = _tiny_model_and_dataset(tmp_path)
        started = time.monotonic()
        run = tmp_path / "run"
        _run([str(bin_dir / "qwthn"), "finetune", "--model", str(model_dir), "--dataset", str(dataset), "--method",
              "qwthn", "--max-steps", "2", "--output", str(run)], env=env)  # fmt: skip
        TIMINGS["finetune [transformers]"] = time.monotonic() - started
        metrics = json.loads(next(run.rglob("metrics.json")).read_text())
        assert metrics, "the run wrote no metrics"
        asked = ["finetune", "--model", str(model_dir), "--dataset", str(dataset), "--backend", missing,
                 "--max-steps", "1", "--output", str(tmp_path / "refused")]  # fmt: skip
    else:
        asked = ["backends", missing]
    refused = subprocess.run([str(bin_dir / "qwthn"), *asked], capture_output=True, text=True, env=env, timeout=600)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"pip install 'qwthn[{missing}]'" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
