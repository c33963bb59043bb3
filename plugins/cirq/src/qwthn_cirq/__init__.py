"""qwthn backend plugin for Google Cirq: registers the backend `cirq` (see `qwthn_cirq.backend`)."""
