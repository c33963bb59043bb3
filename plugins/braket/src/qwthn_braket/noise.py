"""Noise for the local density-matrix simulator, attached to the translated circuit with Braket's own noise API."""

from __future__ import annotations

from braket.circuits import Circuit as BraketCircuit
from braket.circuits import Noise, gates

NOISY_GATES = (gates.Rx, gates.Ry, gates.Rz, gates.H, gates.X, gates.CZ, gates.CNot)
"""Every gate a translation emits except the identities on idle wires, which stand for no operation."""


def apply_noise(circuit: BraketCircuit, n_qubits: int, depolarizing: float, readout_error: float) -> BraketCircuit:
    """`circuit` with Depolarizing(p) after each gate on each of its qubits, and BitFlip(q) before read-out.

    Braket's depolarizing convention: (1-p) rho + p/3 (X rho X + Y rho Y + Z rho Z). A
    controlled rotation is four Braket gates (see `translate`), so it takes four rounds.
    """
    if depolarizing > 0:
        circuit.apply_gate_noise(Noise.Depolarizing(depolarizing), target_gates=list(NOISY_GATES))
    if readout_error > 0:
        circuit.apply_readout_noise(Noise.BitFlip(readout_error), target_qubits=list(range(n_qubits)))
    return circuit
