"""qwthn backend `qiskit`: runs qwthn circuits on Qiskit Aer or on any Qiskit `BackendV2`.

Importing this package is cheap; the SDK is imported by `qwthn_qiskit.backend`, which the
plugin hook loads only when backends are listed or built.
"""

__version__ = "0.1.0"
