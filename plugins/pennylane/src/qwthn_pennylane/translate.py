"""qwthn `Circuit` -> a PennyLane tape template, translated once; a batch is bound into it per call.

The template holds every gate as a PennyLane operation with a placeholder angle, the
read-out measurements and (with the `noise` option) the channels. `bind` puts a whole
batch in at once: input angles become 1-d arrays of B values (PennyLane parameter
broadcasting, `tape.batch_size == B`), shared weights stay scalars, per-row weights are
1-d arrays too. One tape, one `qml.execute` call, whatever B is.

Ordering: PennyLane's `qml.probs(wires=[0..n-1])` is big-endian (wire 0 is the most
significant bit), which is qwthn's order, so nothing is reordered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qwthn.contract.circuit import Circuit
from qwthn_pennylane.options import NoiseOptions

GATE_CLASSES: dict[str, str] = {
    "RX": "RX",
    "RY": "RY",
    "RZ": "RZ",
    "H": "Hadamard",
    "X": "PauliX",
    "CZ": "CZ",
    "CNOT": "CNOT",
    "CRX": "CRX",
    "CRY": "CRY",
    "CRZ": "CRZ",
}
"""qwthn gate-table name -> PennyLane operation. Same matrices (R_P(t) = exp(-i t P / 2), control wire
first, and PennyLane's CRZ is diag(1, 1, e^{-it/2}, e^{it/2}) like the table's); tests compare them."""

NATIVE_GATES = frozenset(GATE_CLASSES)


@dataclass(frozen=True)
class Slot:
    """Tape parameter `position` takes input column / weight `index`."""

    position: int
    source: str
    index: int


@dataclass(eq=False)
class CompiledCircuit:
    """The PennyLane form of one circuit: a template tape, where the batch goes, and an exact-mode device."""

    circuit: Circuit
    template: Any
    slots: tuple[Slot, ...]
    device: Any = None
    _z_strings: list[Any] | None = field(default=None, repr=False)

    @property
    def measurements(self) -> list[Any]:
        return list(self.template.measurements)

    def bind(self, inputs: Any, weights: Any, *, measurements: list[Any] | None = None, shots: int | None = None):
        """A tape of the whole batch: inputs [B, I]; weights [W] (shared) or [B, W] (per row).

        Works with numpy arrays, torch tensors and autograd boxes alike, so the same template serves
        plain execution, backprop and the adjoint vjp.
        """
        per_row = len(getattr(weights, "shape", ())) == 2
        values = []
        for slot in self.slots:
            if slot.source == "input":
                values.append(inputs[:, slot.index])
            else:
                values.append(weights[:, slot.index] if per_row else weights[slot.index])
        tape = (
            self.template.bind_new_parameters(values, [slot.position for slot in self.slots])
            if values
            else self.template
        )
        if measurements is None and shots is None:
            return tape
        return type(tape)(tape.operations, measurements if measurements is not None else tape.measurements, shots=shots)

    def z_strings(self) -> list[Any]:
        """<Z_S> for every non-empty wire set S (mask 1 .. 2^n - 1, big-endian): probabilities in a form adjoint takes.

        p_k = 2^-n sum_S (-1)^{|k & S|} <Z_S>, so sum_k c_k p_k = sum_S a_S <Z_S> with a = WHT(c) / 2^n.
        """
        if self._z_strings is None:
            import pennylane as qml

            n = self.circuit.n_qubits
            strings = []
            for mask in range(1, 2**n):
                wires = [wire for wire in range(n) if (mask >> (n - 1 - wire)) & 1]
                observable = qml.Z(wires[0]) if len(wires) == 1 else qml.prod(*(qml.Z(wire) for wire in wires))
                strings.append(qml.expval(observable))
            self._z_strings = strings
        return self._z_strings


def walsh_hadamard(rows: np.ndarray, n_qubits: int) -> np.ndarray:
    """rows [B, 2^n] -> [B, 2^n] with entry S = sum_k rows[k] (-1)^{popcount(k & S)} (O(n 2^n) per row)."""
    batch = rows.shape[0]
    tensor = rows.reshape((batch,) + (2,) * n_qubits)
    butterfly = np.array([[1.0, 1.0], [1.0, -1.0]])
    for axis in range(1, n_qubits + 1):
        tensor = np.moveaxis(np.tensordot(tensor, butterfly, axes=([axis], [0])), -1, axis)
    return tensor.reshape(batch, 2**n_qubits)


def translate(circuit: Circuit, noise: NoiseOptions | None = None) -> CompiledCircuit:
    """Every gate once, as PennyLane operations; angles from inputs/weights become bindable slots."""
    import pennylane as qml

    ops, slots, position = [], [], 0
    for gate in circuit.gates:
        operation = getattr(qml, GATE_CLASSES[gate.name])
        wires = list(gate.wires)
        angle = gate.angle
        if angle is None:
            ops.append(operation(wires=wires))
        else:
            ops.append(operation(angle.value if angle.source == "const" else 0.0, wires=wires))
            if angle.source != "const":
                slots.append(Slot(position, angle.source, angle.index))
            position += 1
        if noise is not None and noise.active:
            for wire in wires:
                if noise.depolarizing > 0:
                    ops.append(qml.DepolarizingChannel(noise.depolarizing, wires=wire))
                    position += 1
                if noise.amplitude_damping > 0:
                    ops.append(qml.AmplitudeDamping(noise.amplitude_damping, wires=wire))
                    position += 1
    if circuit.readout.kind == "probs":
        measurements = [qml.probs(wires=list(range(circuit.n_qubits)))]
    else:
        measurements = [qml.expval(qml.Z(wire)) for wire in circuit.readout.wires]
    template = qml.tape.QuantumScript(ops, measurements)
    return CompiledCircuit(circuit, template, tuple(slots))


def as_rows(result: Any, n_measurements: int, batched: bool, batch: int, math: Any) -> Any:
    """One tape's result -> [batch, n_outputs], in the result's own array type (numpy, torch or autograd).

    A tuple of per-measurement values ([B] each) is stacked on the last axis; a single expectation
    gains that axis; probabilities already have it. A tape with no broadcast parameter (every row
    the same circuit) gives one row, repeated.
    """
    values = math.stack(list(result), axis=-1) if n_measurements > 1 else result
    if n_measurements == 1 and _is_expval_shape(values, batched):
        values = math.expand_dims(values, -1)
    if not batched:
        values = math.reshape(values, (1, -1))
        values = math.concatenate([values] * batch, axis=0) if batch > 1 else values
    return values


def _is_expval_shape(values: Any, batched: bool) -> bool:
    return len(getattr(values, "shape", ())) == (1 if batched else 0)
