"""qwthn `Circuit` -> parametrised Qiskit `QuantumCircuit`, once per circuit.

Every input column and every weight index becomes one Qiskit parameter
(`ParameterVector("x")` and `ParameterVector("w")`), so a compiled circuit is
bound to a whole batch at once. Gate semantics match qwthn's gate table
exactly: Qiskit's R_P(t) is exp(-i t P / 2) as in the table, and a qwthn
two-qubit gate's first wire is the control, as in Qiskit's `cx(control, target)`.
Qubit k of the Qiskit circuit is wire k (the read-out order is handled elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass

from qiskit.circuit import ParameterExpression, ParameterVector, QuantumCircuit

from qwthn.contract.circuit import Angle, Circuit

GATE_METHODS: dict[str, str] = {
    "RX": "rx",
    "RY": "ry",
    "RZ": "rz",
    "H": "h",
    "X": "x",
    "CZ": "cz",
    "CNOT": "cx",
    "CRX": "crx",
    "CRY": "cry",
    "CRZ": "crz",
}
"""qwthn gate-table name -> `QuantumCircuit` method; the table's matrices and Qiskit's agree gate by gate."""

NATIVE_GATES = frozenset(GATE_METHODS)


@dataclass(frozen=True, eq=False)
class Translated:
    """The logical circuit and its symbols: `inputs[i]` is input column i, `weights[k]` weight k."""

    circuit: QuantumCircuit
    inputs: ParameterVector
    weights: ParameterVector

    def columns(self) -> dict:
        """Parameter -> column of the row vector [inputs..., weights...] that binds it."""
        n_inputs = len(self.inputs)
        table = {parameter: index for index, parameter in enumerate(self.inputs)}
        table.update({parameter: n_inputs + index for index, parameter in enumerate(self.weights)})
        return table


def _angle(angle: Angle, inputs: ParameterVector, weights: ParameterVector):
    if angle.source == "input":
        return inputs[angle.index]
    if angle.source == "weight":
        return weights[angle.index]
    return float(angle.value)


def translate(circuit: Circuit) -> Translated:
    """The gates of `circuit` on `circuit.n_qubits` qubits, without measurements."""
    inputs = ParameterVector("x", circuit.n_inputs)
    weights = ParameterVector("w", circuit.n_weights)
    qc = QuantumCircuit(circuit.n_qubits, name="qwthn")
    for gate in circuit.gates:
        method = getattr(qc, GATE_METHODS[gate.name])
        if gate.angle is None:
            method(*gate.wires)
        else:
            method(_angle(gate.angle, inputs, weights), *gate.wires)
    return Translated(qc, inputs, weights)


def _symbolic(operation) -> bool:
    return any(isinstance(value, ParameterExpression) and value.parameters for value in operation.params)


def aer_safe(qc: QuantumCircuit, supported: frozenset[str]) -> QuantumCircuit:
    """`qc` with the gates Aer would get wrong or refuse decomposed, by their Qiskit definitions.

    Aer (0.16-0.18; qiskit-aer issues #2323, #2391, #2403) ignores values bound through
    `parameter_binds`/primitive PUBs on controlled rotations: `cry(t)` runs as `cry(0)`. Its
    density-matrix method also lacks crx/cry/crz altogether. Qiskit's definitions of these gates use
    one-qubit rotations and cx, which Aer binds and runs right. `supported`: the simulator's basis gates.
    """
    for _ in range(4):
        names = {
            item.operation.name
            for item in qc.data
            if item.operation.num_qubits > 1 and (_symbolic(item.operation) or item.operation.name not in supported)
        }
        if not names:
            return qc
        qc = qc.decompose(gates_to_decompose=sorted(names))
    raise RuntimeError(f"could not decompose gates {sorted(names)} into ones Aer runs")
