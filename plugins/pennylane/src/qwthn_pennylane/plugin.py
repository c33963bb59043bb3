"""Registers the `pennylane` backend through qwthn's entry point, by name and path: the backend module (and
PennyLane) is imported only when the backend is used or described, so listing plugins stays cheap."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    register("pennylane", "qwthn_pennylane.backend:PennyLaneBackend")
