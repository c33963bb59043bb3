"""Registers the `braket` backend through qwthn's entry point, by name and path: the backend module (and
the Braket SDK) is imported only when the backend is used or described, so listing plugins stays cheap."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    register("braket", "qwthn_braket.backend:BraketBackend")
