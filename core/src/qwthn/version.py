"""The release of qwthn (kept equal to core/pyproject.toml's `version` by tests/core/test_contract_version.py).

A module of its own so that every floor can read it without importing the package's public surface.
"""

__version__ = "0.1.0"
