"""Registers the `cirq` backend through qwthn's entry point, by name and path: the backend module (and
Cirq) is imported only when the backend is used or described, so listing plugins stays cheap."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    register("cirq", "qwthn_cirq.backend:CirqBackend")
