"""The plugin module the entry point names: it registers the backend class, imported lazily."""

from qwthn import hookimpl

QWTHN_CONTRACT = "0.1"  # the qwthn contract this plugin was built for: core refuses to load it under another


@hookimpl
def qwthn_register_backends(register):
    from qwthn_example_backend.backend import ExampleBackend

    register(ExampleBackend)
