"""One module per vendor SDK for benchmarks/backends.py: the adapter's circuit written by hand in that SDK.

Each module defines BACKEND (the qwthn backend name), OPTIONS (its backend options in the
benchmark), hand_batched(n_qubits, n_layers, inputs, weights) -> [B, n] (the SDK's best batched
call) and hand_loop(...) (one circuit execution per row). See benchmarks/backends.py.
"""
