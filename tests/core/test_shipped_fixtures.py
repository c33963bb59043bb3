"""The fixtures a plugin's tests use ship with qwthn: they work in a folder far from this repository."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PLUGIN = '''
from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    register("tiny", "tiny_plugin:NotImportedUntilUsed")
'''

TEST = '''
def test_a_plugin_installed_through_its_entry_point_is_found(install_plugin, fresh_registry):
    install_plugin("qwthn-tiny-plugin", "1.2", "tiny", "tiny_plugin")
    entry = fresh_registry.backend_entry("tiny")
    assert (entry.distribution, entry.version) == ("qwthn-tiny-plugin", "1.2")
'''


@pytest.mark.slow
def test_install_plugin_and_fresh_registry_work_without_this_repository(tmp_path):
    (tmp_path / "tiny_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent(TEST))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                             str(tmp_path), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
