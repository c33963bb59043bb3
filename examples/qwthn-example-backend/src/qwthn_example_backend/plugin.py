"""The plugin module the entry point names: it registers the backend class, imported lazily."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    from qwthn_example_backend.backend import ExampleBackend

    register(ExampleBackend)
