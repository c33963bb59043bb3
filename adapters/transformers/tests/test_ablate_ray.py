"""`qwthn ablate --ray`: the grid on a local Ray instance gives the sequential grid's units and report.

One Ray instance (2 CPUs, no dashboard) serves the whole module; the runner uses it as it finds it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from qwthn.errors import QwthnError
from qwthn_transformers.ablation import cluster, ray_address
from qwthn_transformers.ablation import plan as planning
from qwthn_transformers.ablation import unit as ablation_unit
from qwthn_transformers.ablation.protocol import RateSearch
from qwthn_transformers.ablation.runner import AblationOptions, run_ablation
from qwthn_transformers.embedded import base_model

ray = pytest.importorskip("ray")

ARMS = ["lora-r4", "qwthn", "qwthn-dequantized"]
TIMING = {"step_seconds", "peak_memory_mib", "inference_seconds", "inference_seconds_of_source", "seconds"}
"""Wall-clock and memory figures (`seconds`: the backend's, in `backend_usage`): they differ between any two runs."""


pytestmark = pytest.mark.slow  # see pyproject's markers: CI runs it, -m 'not slow' skips it


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """The cache variable is set before Ray starts, so its workers (children of this process) see it too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(base_model.CACHE_ENV, str(tmp_path_factory.getbasetemp() / "ablate-cache"))
        ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
        try:
            yield
        finally:
            ray.shutdown()


def smoke(output: Path, **overrides) -> AblationOptions:
    """The smoke ablation of test_ablate.py with two learning rates, so the validation choice is exercised."""
    settings = {"smoke": True, "seeds": 1, "search": RateSearch(2, 1.0, 0), "arms": ARMS, "noise_sweep": False}
    return AblationOptions(output=output, **{**settings, **overrides})


def units(output: Path) -> dict[str, dict]:
    return {str(path.relative_to(output)): untimed(json.loads(path.read_text()))
            for path in sorted((output / "runs").glob("*/*/result.json"))}  # fmt: skip


def untimed(value):
    """The report with every measured time and memory figure removed, to compare the rest exactly."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def same_report(report: dict) -> dict:
    """What both grids must agree on: the report without measured figures and without its own directory."""
    return {**untimed(report), "settings": {**report["settings"], "output": None}}


def refuse(*args, **kwargs):
    raise AssertionError("a finished unit was trained or submitted again")


def test_the_ray_grid_matches_the_sequential_grid_and_resumes(local_ray, tmp_path, monkeypatch):
    sequential = run_ablation(smoke(tmp_path / "seq"))
    distributed = run_ablation(smoke(tmp_path / "ray", ray="local"))
    assert len(units(tmp_path / "ray")) == 5  # 2 arms x 2 learning rates, trained on Ray; 1 dequantized
    assert units(tmp_path / "ray") == units(tmp_path / "seq")  # losses, metrics, parameters: bit for bit
    assert same_report(distributed) == same_report(sequential)  # the same learning rates chosen, same numbers
    written = json.loads((tmp_path / "ray" / "report.json").read_text())
    assert same_report(written) == same_report(json.loads((tmp_path / "seq" / "report.json").read_text()))
    assert {p.name for p in (tmp_path / "ray").iterdir()} == {p.name for p in (tmp_path / "seq").iterdir()}
    monkeypatch.setattr(cluster, "run_on_ray", refuse)
    monkeypatch.setattr(ablation_unit, "train_unit", refuse)
    assert untimed(run_ablation(smoke(tmp_path / "ray", ray="local"))) == untimed(distributed)


def test_a_failed_unit_is_named_in_one_line_and_the_rest_resume(local_ray, tmp_path, monkeypatch):
    options = smoke(tmp_path / "ab", arms=["lora-r4", "qwthn"], ray="local")
    options.output.mkdir()
    (options.output / planning.SETTINGS_NAME).write_text(json.dumps(options.settings()))
    blocker = planning.unit_dir(options.output, "qwthn", 0, 0.00632)
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the unit's directory goes")
    with pytest.raises(QwthnError) as failed:
        run_ablation(options)
    message = str(failed.value)
    assert "\n" not in message and "1 of 4 units failed" in message
    assert "qwthn, seed 0, learning rate 0.00632: " in message and "rerun the same command to resume" in message
    saved = planning.result_path(options.output, "lora-r4", 0, 0.00632)
    assert saved.is_file() and not planning.result_path(options.output, "qwthn", 0, 0.00632).is_file()
    blocker.unlink()
    before = saved.stat().st_mtime_ns
    report = run_ablation(options)  # only the failed unit runs again
    assert saved.stat().st_mtime_ns == before and set(report["summary"]) == {"lora-r4", "qwthn"}


def test_a_missing_ray_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if Ray were not installed
    with pytest.raises(QwthnError, match=r"pip install 'qwthn-transformers\[ray\]'"):
        run_ablation(smoke(tmp_path / "ab", ray="local"))
    assert not (tmp_path / "ab").exists()  # refused before anything was written or loaded


def test_an_unreachable_cluster_is_one_line(monkeypatch):
    def unreachable(**kwargs):
        raise ConnectionError("Could not find any running Ray instance.\nPlease specify the one to connect to.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", unreachable)
    expected = r"^cannot start or reach Ray at 'auto': ConnectionError: Could not find any running Ray instance\.$"
    with pytest.raises(QwthnError, match=expected), cluster.connected("auto"):
        pass


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_an_address_nothing_listens_on_is_refused_in_seconds_before_anything_is_written(tmp_path, address):
    """Ray's own client retries such an address for minutes, warning each time and ignoring Ctrl-C."""
    import time

    start = time.perf_counter()
    with pytest.raises(QwthnError, match=r"^cannot reach a Ray cluster at .*\(.*\); start one there"):
        run_ablation(smoke(tmp_path / "ab", ray=address))
    assert time.perf_counter() - start < ray_address.CONNECT_TIMEOUT_S + 5
    assert not (tmp_path / "ab").exists()
