"""A plugin built for a later qwthn contract than the installed core's: core must refuse it before its hooks run."""

from qwthn import hookimpl

QWTHN_CONTRACT = "0.2"


@hookimpl
def qwthn_register_backends(register):
    raise AssertionError("never called: core refuses a plugin built for another contract before registering it")
