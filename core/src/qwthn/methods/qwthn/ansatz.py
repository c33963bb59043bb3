"""Builds the QWTHN quantum circuit from the config's knobs.

Layout (n qubits, L layers): encode input i on qubit i; then L times
[RZ(w), RY(w) on every qubit], with the entangler between layers (a CZ after
the last layer would be diagonal and invisible to a Z-basis read-out, so it is
left out). RZ before RY so both rotations of every layer reach the read-out.
With `reupload` the inputs are encoded again before every layer after the first.
A chain of CZ only couples neighbours, so it maps onto a nearest-neighbour chip
without SWAPs.
"""

from __future__ import annotations

from typing import Literal

from qwthn.contract.circuit import Angle, Circuit, Gate, Readout

Encoding = Literal["ry", "rx"]
Entangler = Literal["chain", "ring", "none"]


def entangler_pairs(n_qubits: int, pattern: Entangler) -> list[tuple[int, int]]:
    if pattern == "none" or n_qubits < 2:
        return []
    pairs = [(wire, wire + 1) for wire in range(n_qubits - 1)]
    if pattern == "ring" and n_qubits > 2:
        pairs.append((n_qubits - 1, 0))
    return pairs


def build_qnn_circuit(
    n_qubits: int,
    n_layers: int,
    *,
    encoding: Encoding = "ry",
    reupload: bool = False,
    entangler: Entangler = "chain",
    readout: Literal["expval_z", "probs"] = "expval_z",
) -> Circuit:
    """The hardware-efficient QNN; inputs are angles (bounded by the caller), n_inputs = n_qubits."""
    encode_gate = encoding.upper()
    gates: list[Gate] = []
    weight_index = 0
    for layer in range(n_layers):
        if layer == 0 or reupload:
            gates.extend(Gate(encode_gate, (wire,), Angle.input(wire)) for wire in range(n_qubits))
        for rotation in ("RZ", "RY"):
            for wire in range(n_qubits):
                gates.append(Gate(rotation, (wire,), Angle.weight(weight_index)))
                weight_index += 1
        if layer < n_layers - 1:
            gates.extend(Gate("CZ", pair) for pair in entangler_pairs(n_qubits, entangler))
    wires = tuple(range(n_qubits)) if readout == "expval_z" else ()
    return Circuit(n_qubits, tuple(gates), n_inputs=n_qubits, n_weights=weight_index, readout=Readout(readout, wires))
