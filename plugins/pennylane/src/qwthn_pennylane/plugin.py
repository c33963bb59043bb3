"""Registers the `pennylane` backend through qwthn's entry point, by name and path: the backend module (and
PennyLane) is imported only when the backend is used or described, so listing plugins stays cheap."""

from qwthn import hookimpl

QWTHN_CONTRACT = "0.1"  # the qwthn contract this plugin was built for: core refuses to load it under another


@hookimpl
def qwthn_register_backends(register):
    register("pennylane", "qwthn_pennylane.backend:PennyLaneBackend")
