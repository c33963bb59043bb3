"""Translation: every gate of the table is the Cirq gate with exactly its matrix, global phase included, big-endian."""

from __future__ import annotations

import math

import cirq
import numpy as np
import pytest
import torch

from qwthn import GATES, get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.testing import reference
from qwthn_cirq.backend import NATIVE_GATES
from qwthn_cirq.translate import GATE_MAKERS, operation, translate

ANGLES = (0.0, 0.37, -1.3, math.pi, 4.1)


def test_every_gate_of_the_table_is_translated_and_declared():
    assert set(GATE_MAKERS) == set(GATES) == set(NATIVE_GATES)
    assert get_backend("cirq").capabilities.native_gates == frozenset(GATES)


@pytest.mark.parametrize("name", sorted(GATES))
def test_cirq_unitary_equals_gate_table_matrix(name):
    """Symbolic angle resolved per value; the first wire (control) is the most significant bit, as in GateSpec."""
    spec = GATES[name]
    qubits = tuple(cirq.LineQubit.range(spec.n_wires))
    angle = Angle.weight(0) if spec.parametrised else None
    op = operation(Gate(name, tuple(range(spec.n_wires)), angle), qubits)
    for value in ANGLES:
        resolved = cirq.resolve_parameters(op, {"w_0": value})
        np.testing.assert_allclose(cirq.unitary(resolved), spec.matrix(value), atol=1e-12, err_msg=f"{name}({value})")


@pytest.mark.parametrize("name", ["CNOT", "CRX", "CRY", "CRZ"])
def test_control_on_the_higher_wire(name):
    """Control on wire 2, target wire 0, with an idle wire between: values match the NumPy reference."""
    gates = (
        Gate("RY", (0,), Angle.input(0)), Gate("RX", (2,), Angle.input(1)),
        Gate(name, (2, 0), Angle.weight(0) if GATES[name].parametrised else None), Gate("H", (0,)),
    )  # fmt: skip
    rng = np.random.default_rng(3)
    inputs, weights = rng.uniform(-3, 3, (5, 2)), rng.uniform(-3, 3, 1)
    backend = get_backend("cirq")
    for readout in (Readout("probs"), Readout("expval_z", (2, 0, 1))):
        circuit = Circuit(3, gates, 2, 1, readout)
        got = backend.evaluate(backend.compile(circuit), torch.tensor(inputs), torch.tensor(weights))
        np.testing.assert_allclose(got.numpy(), reference.evaluate(circuit, inputs, weights), atol=1e-10)


def test_wire_zero_is_the_most_significant_bit():
    """X on wire 0 of 3 gives probs index 4 (0b100) in Cirq's own output: hence qubit_ordering='big'."""
    backend = get_backend("cirq")
    assert backend.capabilities.qubit_ordering == "big"
    circuit = Circuit(3, (Gate("X", (0,)),), 1, 0, Readout("probs"))
    probs = backend.evaluate(backend.compile(circuit), torch.zeros(1, 1), torch.zeros(0))
    assert probs[0].argmax().item() == 4 and probs[0, 4].item() == pytest.approx(1.0)


def test_idle_wires_join_the_program_virtually():
    """A wire no gate touches still belongs to the program (for noise models), as a virtual identity."""
    circuit = Circuit(3, (Gate("H", (1,)),), 1, 0)
    program = translate(circuit).program
    assert program.all_qubits() == set(cirq.LineQubit.range(3))
    idle = [op for op in program.all_operations() if op.gate == cirq.I]
    assert len(idle) == 2 and all(cirq.VirtualTag() in op.tags for op in idle)
    assert len(program) == 1  # no extra moment
