"""A plugin that implements a hook qwthn does not define: registration must reject it."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_devices(register):
    raise AssertionError("never called: the hook has no spec")
