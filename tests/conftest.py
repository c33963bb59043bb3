"""Shared fixtures: a registry rescanned per test, and a way to install a plugin through real entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwthn import registry

FAKE_PLUGIN_DIR = Path(__file__).parent / "fake_plugin"


@pytest.fixture
def fresh_registry():
    registry.reset()
    yield registry
    registry.reset()


@pytest.fixture
def install_plugin(tmp_path, monkeypatch, fresh_registry):
    """Write a *.dist-info with an entry point into a sys.path folder, as pip would."""

    def install(distribution: str, version: str, entry_point: str, module: str) -> None:
        info = tmp_path / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[qwthn.backends]\n{entry_point} = {module}\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.syspath_prepend(str(FAKE_PLUGIN_DIR))
        fresh_registry.reset()

    return install
