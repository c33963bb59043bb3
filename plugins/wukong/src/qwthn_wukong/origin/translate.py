"""qwthn Circuit IR -> pyqpanda3 `QProg`, and pyqpanda3 results -> big-endian probabilities.

pyqpanda3 0.5.1 has no parametric batching that can be trusted (see sdk-facts section 5), so a batch
becomes one `QProg` per row with the angles bound as floats.

Ordering (checked against pyqpanda3 0.5.1 with X on one wire): qwthn is big-endian (wire 0 = most
significant bit of a probability index). pyqpanda3's `state_probs()` / `get_prob_list()` are
little-endian (index bit 0 = qubit 0) and the keys of `get_prob_dict()` / `get_counts()` are bit
strings with cbit 0 rightmost ('001' = qubit 0 read 1 of 3). Wire w is mapped to qubit w and cbit w;
`little_to_big` and `probs_from_dict` convert explicitly.

Two-qubit gates: a CZ is symmetric and is always emitted as CZ(min, max), so that the pair error of
`origin.noise` (whose Kraus operators pyqpanda3 orients by the gate's operand order) lines up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from qwthn.contract.circuit import Circuit, Gate
from qwthn.errors import CapabilityError

SUPPORTED_GATES = frozenset({"RX", "RY", "RZ", "CZ", "H", "X", "CNOT"})


def bind_angles(circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
    """[B, n_gates] float64 angles per row (NaN for fixed gates).

    inputs: [B, n_inputs] (1-D = one row); weights: [n_weights] shared or [B, n_weights].
    """
    x = torch.as_tensor(inputs).detach().to("cpu", torch.float64)
    x = x.reshape(1, -1) if x.dim() == 1 else x
    w = torch.as_tensor(weights).detach().to("cpu", torch.float64)
    rows = x.shape[0]
    if w.dim() == 2:
        if w.shape[0] != rows:
            if rows == 1 and x.shape[1] == 0:
                rows = w.shape[0]
                x = x.expand(rows, 0)
            else:
                raise ValueError(f"weights rows {w.shape[0]} differ from inputs rows {rows}")
    else:
        w = w.reshape(1, -1).expand(rows, -1)
    x_np, w_np = x.numpy(), w.numpy()
    out = np.full((rows, len(circuit.gates)), np.nan)
    for position, gate in enumerate(circuit.gates):
        angle = gate.angle
        if angle is None:
            continue
        if angle.source == "const":
            out[:, position] = angle.value
        elif angle.source == "input":
            out[:, position] = x_np[:, angle.index]
        else:
            out[:, position] = w_np[:, angle.index]
    return out


def check_gates(circuit: Circuit) -> None:
    unsupported = sorted(circuit.gate_names - SUPPORTED_GATES)
    if unsupported:
        raise CapabilityError(
            f"the pyqpanda3 translation supports {sorted(SUPPORTED_GATES)}, the circuit uses {unsupported}"
        )


def _gate(gate: Gate, angle: float, qubits: Sequence[int]):
    from pyqpanda3 import core

    name, wires = gate.name, tuple(qubits[wire] for wire in gate.wires)
    if name in ("RX", "RY", "RZ"):
        return getattr(core, name)(wires[0], float(angle))
    if name in ("H", "X"):
        return getattr(core, name)(wires[0])
    if name == "CZ":
        return core.CZ(min(wires), max(wires))
    if name == "CNOT":
        return core.CNOT(wires[0], wires[1])
    raise CapabilityError(f"gate {name} has no pyqpanda3 translation; supported {sorted(SUPPORTED_GATES)}")


def to_qprog(
    circuit: Circuit, angles: Sequence[float], *, measure: bool = True, qubits: Sequence[int] | None = None
):
    """One `QProg` for one row of bound angles ([n_gates], as from `bind_angles`).

    measure: append measure(wire -> cbit wire) for every wire (needed for sampling on CPUQVM or the
    cloud; leave it off for `DensityMatrixSimulator`). qubits: the chip qubit of each wire (the
    placement's physical qubits, for the cloud); default wire w on qubit w. Cbit w always reads wire w.
    """
    from pyqpanda3 import core

    check_gates(circuit)
    n = circuit.n_qubits
    qubits = list(range(n)) if qubits is None else list(qubits)
    prog = core.QProg(max(qubits) + 1)
    for gate, angle in zip(circuit.gates, angles, strict=True):
        prog << _gate(gate, angle, qubits)
    if measure:
        prog << core.measure(qubits, list(range(n)))
    return prog


def to_qprogs(
    circuit: Circuit,
    inputs: torch.Tensor,
    weights: torch.Tensor,
    *,
    measure: bool = True,
    qubits: Sequence[int] | None = None,
) -> list:
    """A batch -> a list of `QProg`, one per row (pyqpanda3 has no parametric batching)."""
    check_gates(circuit)
    return [to_qprog(circuit, row, measure=measure, qubits=qubits) for row in bind_angles(circuit, inputs, weights)]


def little_to_big(probs: Sequence[float] | np.ndarray, n_qubits: int) -> np.ndarray:
    """Little-endian (index bit 0 = qubit 0) probabilities [..., 2^n] -> big-endian (wire 0 = MSB)."""
    values = np.asarray(probs, dtype=np.float64)
    batch = values.shape[:-1]
    if values.shape[-1] != 2**n_qubits:
        raise ValueError(f"expected 2^{n_qubits} probabilities, got {values.shape[-1]}")
    tensor = values.reshape(*batch, *(2,) * n_qubits)
    # little-endian axes run qubit n-1 .. qubit 0; reversing them puts qubit 0 first.
    axes = tuple(range(len(batch))) + tuple(len(batch) + n_qubits - 1 - k for k in range(n_qubits))
    return np.ascontiguousarray(tensor.transpose(axes)).reshape(*batch, 2**n_qubits)


def probs_from_dict(probs: Mapping[str, float], n_qubits: int) -> np.ndarray:
    """{bit string: p} with cbit 0 rightmost (pyqpanda3 `get_prob_dict`, cloud `get_probs_list`) -> [2^n] big-endian.

    Keys may also be hex ('0x5') or shorter than n bits (left-padded with zeros).
    """
    out = np.zeros(2**n_qubits)
    for key, value in probs.items():
        text = str(key)
        little_index = int(text, 16) if text.lower().startswith("0x") else int(text, 2)
        if little_index >= 2**n_qubits:
            raise ValueError(f"outcome {key!r} does not fit {n_qubits} qubits")
        # little_index has bit k = cbit k = wire k; big-endian index has wire k at bit n-1-k.
        big_index = int(format(little_index, f"0{n_qubits}b")[::-1], 2)
        out[big_index] += float(value)
    return out
