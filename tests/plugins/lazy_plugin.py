"""Registers backends by name and "module:Class" path, so their modules load only when used."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    register("lazy-test", "lazy_backend:LazyBackend")
    register("lazy-missing", "qwthn_no_such_module:Backend")
