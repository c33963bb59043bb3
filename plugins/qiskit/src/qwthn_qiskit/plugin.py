"""Registers the `qiskit` backend through qwthn's entry point, by name and path: the backend module (and
Qiskit) is imported only when the backend is used or described, so listing plugins stays cheap."""

from qwthn import hookimpl


@hookimpl
def qwthn_register_backends(register):
    register("qiskit", "qwthn_qiskit.backend:QiskitBackend")
