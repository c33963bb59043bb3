"""The NumPy state-vector reference, where the test kit has always offered it.

It lives in `qwthn.runtime.reference` because dry runs execute it (an engine, not only a test
tool); conformance checks, plugin tests and third-party suites keep importing it from here.
"""

from qwthn.runtime.reference import *  # noqa: F403
