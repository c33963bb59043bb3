"""On PYTHONPATH, makes the modules named in HIDE_MODULES (comma-separated) look uninstalled.

importlib.util.find_spec returns None for them and importing them fails, as on a machine without
the package: how the catalogue checks the one-line hints for a missing extra or model package.
"""

import os
import sys

for _name in filter(None, os.environ.get("HIDE_MODULES", "").split(",")):
    sys.modules[_name.strip()] = None
