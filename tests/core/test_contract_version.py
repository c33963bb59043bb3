"""Core and its plugins come in release series: extras pinned to core's series, and a plugin built for another
contract refused at load time with one line that names both versions and the pip command that fixes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import qwthn
from conftest import FAKE_PLUGIN_DIR
from qwthn import BackendNotFoundError, get_backend
from qwthn.contract.hookspecs import CONTRACT_ATTRIBUTE, CONTRACT_VERSION
from qwthn.plugins import series_range
from qwthn.testing.installing import write_dist_info

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = sorted([*(ROOT / "plugins").glob("*/pyproject.toml"), ROOT / "adapters/transformers/pyproject.toml"])
SERIES = SpecifierSet(series_range(CONTRACT_VERSION))


def _project(pyproject: Path) -> dict:
    return tomllib.loads(pyproject.read_text())["project"]


def test_contract_version_is_cores_release_series():
    core = _project(ROOT / "core/pyproject.toml")
    assert qwthn.__version__ == core["version"]
    assert ".".join(core["version"].split(".")[:2]) == CONTRACT_VERSION
    assert series_range("0.1") == ">=0.1,<0.2" and series_range("1.9") == ">=1.9,<1.10"


def test_core_extras_pin_first_party_distributions_to_its_series():
    extras = _project(ROOT / "core/pyproject.toml")["optional-dependencies"]
    first_party = {_project(path)["name"] for path in FIRST_PARTY}
    pinned = {}
    for extra, requirements in extras.items():
        for requirement in map(Requirement, requirements):
            if requirement.name.startswith("qwthn"):
                assert requirement.specifier == SERIES, f"[{extra}] {requirement}: not pinned to {SERIES}"
                pinned[requirement.name] = extra
    assert set(pinned) == first_party  # every first-party distribution is reachable through an extra
    assert {Requirement(r).name for r in extras["all"]} == first_party


@pytest.mark.parametrize("pyproject", FIRST_PARTY, ids=lambda path: path.parent.name)
def test_first_party_distributions_release_and_require_cores_series(pyproject: Path):
    project = _project(pyproject)
    assert Version(project["version"]) in SERIES, f"{project['name']} {project['version']} is outside {SERIES}"
    (core,) = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "qwthn"]
    assert core.specifier == SERIES


@pytest.mark.parametrize("pyproject", FIRST_PARTY, ids=lambda path: path.parent.name)
def test_first_party_plugins_state_the_contract_they_were_built_for(pyproject: Path):
    for target in _project(pyproject)["entry-points"]["qwthn"].values():
        module = import_module(target)
        assert getattr(module, CONTRACT_ATTRIBUTE, None) == CONTRACT_VERSION, f"{target} states no/another contract"


def test_plugin_built_for_another_contract_is_broken_with_a_one_line_fix(install_plugin):
    install_plugin("qwthn-future-test", "0.2.0", "future", "future_contract_plugin")
    from qwthn.plugins import host

    (broken,) = [b for b in host.broken() if b.plugin.name == "future"]
    assert broken.reason == (
        f"qwthn-future-test 0.2.0 needs qwthn>=0.2,<0.3 (contract 0.2) but qwthn {qwthn.__version__} (contract "
        f"{CONTRACT_VERSION}) is installed; fix: pip install --upgrade qwthn-future-test (to a release for qwthn "
        f"{CONTRACT_VERSION}), or pip install 'qwthn>=0.2,<0.3'"
    )
    assert "emulator" in {entry.name for entry in host.backends()}  # the others still load
    with pytest.raises(BackendNotFoundError, match=r"plugin 'future' is broken: qwthn-future-test 0\.2\.0 needs"):
        get_backend("future")


def test_first_party_plugin_of_another_series_is_told_to_match_core(install_plugin):
    """A distribution core's extras name is released in step with core: the fix installs its matching release."""
    install_plugin("qwthn-cirq", "0.2.0", "cirq-next", "future_contract_plugin")
    from qwthn.plugins import host

    (broken,) = [b for b in host.broken() if b.plugin.name == "cirq-next"]
    assert broken.reason.endswith(
        f"fix: pip install 'qwthn-cirq{series_range(CONTRACT_VERSION)}' (its release for qwthn {qwthn.__version__})"
    )


@pytest.mark.parametrize("stated", ["latest", 0.1, "0.1.0"])
def test_a_malformed_contract_statement_is_refused(install_plugin, monkeypatch, stated):
    monkeypatch.syspath_prepend(str(FAKE_PLUGIN_DIR))
    monkeypatch.setattr(import_module("future_contract_plugin"), CONTRACT_ATTRIBUTE, stated)
    install_plugin("qwthn-future-test", "0.2.0", "future", "future_contract_plugin")
    from qwthn.plugins import host

    (broken,) = [b for b in host.broken() if b.plugin.name == "future"]
    assert broken.reason == (
        f"qwthn-future-test 0.2.0 states {CONTRACT_ATTRIBUTE} = {stated!r}, not a 'MAJOR.MINOR' string such as "
        f"'{CONTRACT_VERSION}'"
    )


@pytest.mark.slow
def test_qwthn_backends_lists_it_as_broken_with_that_reason(tmp_path):
    site = tmp_path / "site"
    write_dist_info(site, "qwthn-future-test", "0.2.0", "future", "future_contract_plugin")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(FAKE_PLUGIN_DIR)])}
    result = subprocess.run([sys.executable, "-m", "qwthn", "backends", "--json"], capture_output=True, text=True,
                            env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (broken,) = json.loads(result.stdout)["broken_plugins"]
    assert broken["plugin"] == "future" and broken["version"] == "0.2.0"
    assert "needs qwthn>=0.2,<0.3" in broken["reason"] and "pip install 'qwthn>=0.2,<0.3'" in broken["reason"]
    assert "\n" not in broken["reason"]
