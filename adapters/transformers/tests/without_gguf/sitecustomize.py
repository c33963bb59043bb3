"""On PYTHONPATH, makes the `gguf` package look uninstalled (importlib.util.find_spec returns None, imports fail)."""

import sys

sys.modules["gguf"] = None
