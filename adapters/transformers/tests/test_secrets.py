"""No API key ends up in a run directory, an adapter, a report, the console or the logs.

Why: run directories, adapters and reports are shared and committed; keys must stay in the environment
(or a config) they came from. Every variable a backend or the hub client reads a key from is set to a
planted value, a tiny real finetune / evaluate / save runs, and every byte they wrote or printed is
searched for the planted values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_finetune import TINY  # the tiny recipe; its base model is cached per test here

from qwthn import QWTHNConfig
from qwthn.runtime import Runtime, RuntimeConfig
from qwthn_transformers import inject_adapter, save_adapter
from qwthn_transformers.embedded import base_model
from qwthn_transformers.finetune import FinetuneOptions, run_finetune
from qwthn_transformers.loading import load_causal_lm

KEY_VARIABLES = (
    "QWTHN_ORIGIN_API_KEY",  # plugins/wukong: Origin Quantum cloud (qwthn_wukong.origin.cloud.API_KEY_ENV)
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",  # plugins/braket, through boto3
    "QISKIT_IBM_TOKEN", "IBM_QUANTUM_TOKEN", "IBMQ_TOKEN",  # plugins/qiskit, through qiskit-ibm-runtime
    "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",  # the Hugging Face hub client, when a model id is fetched
)  # fmt: skip
SECRETS = {name: f"planted-{name.lower()}-9c41e7d2" for name in KEY_VARIABLES}
LOGGERS = ("transformers", "huggingface_hub", "qwthn", "qwthn_transformers")

def leaks(data: bytes | str, where: str) -> list[str]:
    """'where: VARIABLE' for each planted secret found in `data` (raw, or JSON-escaped)."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    return [f"{where}: {name}" for name, secret in SECRETS.items()
            if secret.encode() in raw or json.dumps(secret).encode() in raw]  # fmt: skip


def files_under(root: Path) -> Iterator[Path]:
    return (path for path in sorted(root.rglob("*")) if path.is_file())


def scan_tree(root: Path) -> tuple[list[str], int]:
    """Every leak in every file under `root` (read as bytes), and how many files were read."""
    found, count = [], 0
    for path in files_under(root):
        found += leaks(path.read_bytes(), str(path.relative_to(root)))
        count += 1
    return found, count


@pytest.fixture
def planted(monkeypatch, tmp_path):
    """Every key variable set to a planted value; the base-model cache inside tmp_path so it is scanned too."""
    from qwthn_wukong.origin.cloud import API_KEY_ENV

    assert API_KEY_ENV in SECRETS  # the variable the wukong plugin reads is one that is planted
    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    monkeypatch.setenv(base_model.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path


@pytest.fixture
def all_logs(caplog):
    """DEBUG records of every library logger, including those that do not propagate (transformers)."""
    caplog.set_level(logging.DEBUG)
    attached = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        attached.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
    yield caplog
    for logger, level in attached:
        logger.setLevel(level)
        if caplog.handler in logger.handlers:
            logger.removeHandler(caplog.handler)


@pytest.fixture
def deleted(planted, monkeypatch):
    """Scans whatever is deleted under tmp_path before it goes (checkpoints and state of a finished run)."""
    import shutil

    seen: dict[str, list[str]] = {}
    rmtree, unlink = shutil.rmtree, Path.unlink

    def scan(path: Path) -> None:
        path = Path(path)
        if planted in path.parents and path.exists():
            for file in [path] if path.is_file() else files_under(path):
                name = file.relative_to(planted).as_posix()
                seen[name] = leaks(file.read_bytes(), f"{name} (deleted)")

    def scanning_rmtree(path, *args, **kwargs):
        scan(path)
        return rmtree(path, *args, **kwargs)

    def scanning_unlink(self, *args, **kwargs):
        scan(self)
        return unlink(self, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", scanning_rmtree)
    monkeypatch.setattr(Path, "unlink", scanning_unlink)
    return seen


def test_the_scan_finds_a_planted_key(tmp_path):
    """The control: a key written raw or inside JSON is found, with the file it is in."""
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "metrics.json").write_text(json.dumps({"token": SECRETS["HF_TOKEN"]}))
    (tmp_path / "clean.bin").write_bytes(b"\x00\x01 nothing here")
    found, count = scan_tree(tmp_path)
    assert found == [f"{Path('deep', 'er', 'metrics.json')}: HF_TOKEN"] and count == 2


@pytest.mark.reliability(
    kind='security', surface='CLI',
    tried='API keys planted in the environment during finetune, evaluate and save_adapter',
    held='no key in any file written (deleted state included), output or log',
)
def test_no_key_in_anything_a_run_writes_or_prints(planted, deleted, capfd, all_logs, reliability):
    from qwthn.cli import main

    run = planted / "run"
    metrics = run_finetune(FinetuneOptions(output=run, checkpoint_every=1), TINY)
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", str(run / "qwthn"), "--limit", "2", "--json"])
    assert exited.value.code == 0
    model, _ = load_causal_lm(metrics["base_model"]["path"])
    inject_adapter(model, QWTHNConfig(n_qubits=2, n_layers=1), Runtime.from_config(RuntimeConfig()))
    save_adapter(model, planted / "saved")

    found, count = scan_tree(planted)
    assert (run / "metrics.json").is_file() and (run / "qwthn" / "adapter_config.json").is_file()
    assert (planted / "saved" / "adapter_config.json").is_file() and (planted / "cache").is_dir()
    assert count >= 10, sorted(str(path) for path in files_under(planted))  # the scan really read the run
    assert any(name.startswith("run/state/") for name in deleted), sorted(deleted)  # and the checkpoints it removed
    found += [leak for found_in_file in deleted.values() for leak in found_in_file]
    captured = capfd.readouterr()
    assert '"results"' in captured.out  # the evaluate report was printed, so its output is scanned
    found += leaks(captured.out, "stdout") + leaks(captured.err, "stderr")
    found += leaks(all_logs.text, "logging") + leaks(json.dumps(metrics), "returned metrics")
    reliability.answer(f"{count} files written, {len(deleted)} deleted, stdout, stderr, logs and metrics scanned; "
                       f"keys found: {found or 'none'}")
    assert not found, "planted keys leaked into: " + ", ".join(found)


@pytest.mark.reliability(
    kind='security', surface='CLI',
    tried='a key passed in --backend-options',
    held='the refusal names the option, never its value',
)
def test_a_key_put_in_backend_options_is_not_echoed_by_the_error(planted, capfd, all_logs, reliability):
    """A credential misplaced in --backend-options is refused without repeating it (stderr ends up in CI logs)."""
    from qwthn.cli import main

    adapter = planted / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"method": "lora", "base_model_name_or_path": "x"}))
    options = json.dumps({"api_token": SECRETS["QISKIT_IBM_TOKEN"]})
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", str(adapter), "--backend-options", options])
    assert exited.value.code == 2
    err = capfd.readouterr().err
    found = leaks(err, "stderr")
    reliability.answer(f"exit {exited.value.code}; stderr: {err}" if not found else "(stderr held a planted key)",
                       planted)  # fmt: skip
    assert "option 'api_token': Extra inputs are not permitted" in err  # the refusal itself is shown
    found += leaks(all_logs.text, "logging") + scan_tree(planted)[0]
    assert not found, "planted keys leaked into: " + ", ".join(found)
