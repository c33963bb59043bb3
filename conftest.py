"""Shared fixtures: a registry rescanned per test, and a way to install a plugin through real entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwthn.plugins import host as registry

FAKE_PLUGIN_DIR = Path(__file__).parent / "tests" / "plugins"


def write_dist_info(folder: Path, distribution: str, version: str, entry_point: str, module: str) -> None:
    """What pip leaves for an installed plugin: metadata and one entry point in the `qwthn` group."""
    info = folder / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[qwthn]\n{entry_point} = {module}\n")


@pytest.fixture
def fresh_registry():
    registry.reset()
    yield registry
    registry.reset()


@pytest.fixture
def install_plugin(tmp_path, monkeypatch, fresh_registry):
    """Write a *.dist-info with an entry point into a sys.path folder, as pip would."""

    def install(distribution: str, version: str, entry_point: str, module: str) -> None:
        write_dist_info(tmp_path, distribution, version, entry_point, module)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.syspath_prepend(str(FAKE_PLUGIN_DIR))
        fresh_registry.reset()

    return install
