"""The QTHA authors' variational circuit, built from the gate table.

r qubits, L layers; every layer re-encodes the inputs as RY(h_i) on wire i, then
a ring of trainable CRZ (control i, target i+1 mod r), trainable RY on every
wire, a ring of CRZ (control i, target i-1 mod r), trainable RY; <Z_i> read out.
Within a ring every CRZ is diagonal, so their order does not change the unitary;
they are emitted in the order the authors' code applies them. Weights are laid
out per layer as [CRZ ring 1 | RY | CRZ ring 2 | RY], r each.
"""

from __future__ import annotations

from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.errors import QwthnError


def build_qtha_circuit(n_qubits: int, n_layers: int) -> Circuit:
    if n_qubits < 2:
        raise QwthnError(f"the QTHA circuit needs at least 2 qubits (its CRZ rings), got {n_qubits}; raise r")
    gates: list[Gate] = []
    weight = 0

    def block(name: str, controls: list[int], step: int) -> None:
        """r gates reading weights weight..weight+r-1 (slot = control wire); step 0 means one-qubit RY."""
        nonlocal weight
        for wire in controls:
            wires = (wire,) if step == 0 else (wire, (wire + step) % n_qubits)
            gates.append(Gate(name, wires, Angle.weight(weight + wire)))
        weight += n_qubits

    every_wire = list(range(n_qubits))
    for _ in range(n_layers):
        gates.extend(Gate("RY", (wire,), Angle.input(wire)) for wire in every_wire)
        block("CRZ", every_wire[::-1], +1)
        block("RY", every_wire, 0)
        block("CRZ", [n_qubits - 1, *every_wire[:-1]], -1)
        block("RY", every_wire, 0)
    return Circuit(n_qubits, tuple(gates), n_inputs=n_qubits, n_weights=weight, readout=Readout("expval_z"))
