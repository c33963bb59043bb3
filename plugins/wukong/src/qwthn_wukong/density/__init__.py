"""Exact noisy simulation in the Pauli-transfer-matrix (PTM) picture, batched in torch."""
