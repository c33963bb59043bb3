"""Native decomposition to {RX, RY, RZ, CZ}: exact up to global phase; depth and duration from the gate clocks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qwthn.contract.circuit import Angle, Circuit, Gate
from qwthn.contract.gates import GATES
from qwthn.errors import CapabilityError
from qwthn_wukong.native import NATIVE, decompose, decompose_gate, schedule, to_native


def unitary(gates, n):
    """Unitary of a gate list on n wires, wire 0 most significant."""
    total = np.eye(2**n, dtype=complex)
    for gate in gates:
        matrix = GATES[gate.name].matrix(gate.angle.value if gate.angle else 0.0)
        k = len(gate.wires)
        rest = [w for w in range(n) if w not in gate.wires]
        full = np.kron(matrix, np.eye(2 ** (n - k))).reshape([2] * (2 * n))
        order = list(gate.wires) + rest  # axes of `full` are in this wire order
        perm = [order.index(w) for w in range(n)]
        full = full.transpose(perm + [n + p for p in perm]).reshape(2**n, 2**n)
        total = full @ total
    return total


def equal_up_to_phase(a, b):
    index = np.unravel_index(np.argmax(abs(b)), b.shape)
    phase = a[index] / b[index]
    return abs(abs(phase) - 1) < 1e-12 and np.allclose(a, phase * b, atol=1e-12)


@pytest.mark.parametrize(
    "gate, n",
    [
        (Gate("H", (0,)), 1),
        (Gate("X", (0,)), 1),
        (Gate("CNOT", (0, 1)), 2),
        (Gate("CNOT", (1, 0)), 2),
        (Gate("CNOT", (2, 0)), 3),
        (Gate("RX", (0,), Angle.const(0.3)), 1),
        (Gate("CZ", (0, 1)), 2),
    ],
)
def test_decomposition_is_exact_up_to_global_phase(gate, n):
    native = decompose_gate(gate)
    assert {g.name for g in native} <= NATIVE
    assert equal_up_to_phase(unitary(native, n), unitary([gate], n))


def test_swap_is_three_cnots():
    native = decompose_gate(Gate("SWAP", (0, 1)))
    assert sum(g.name == "CZ" for g in native) == 3
    swap = np.eye(4)[[0, 2, 1, 3]]
    assert equal_up_to_phase(unitary(native, 2), swap)


def test_controlled_rotations_are_refused():
    with pytest.raises(CapabilityError, match="not native"):
        decompose([Gate("CRX", (0, 1), Angle.const(0.1))])


def test_to_native_keeps_angles_symbolic_and_readout():
    circuit = Circuit(2, (Gate("H", (0,)), Gate("RY", (1,), Angle.input(0)), Gate("CNOT", (0, 1))), 1, 0)
    native = to_native(circuit)
    assert native.gate_names <= NATIVE and native.readout == circuit.readout
    assert Gate("RY", (1,), Angle.input(0)) in native.gates


def test_depth_and_duration_from_gate_clocks():
    rz_only = Circuit(1, (Gate("RZ", (0,), Angle.const(1.0)),), 0, 0)
    assert schedule(rz_only).duration_ns == 0 and schedule(rz_only).depth == 0
    h = to_native(Circuit(1, (Gate("H", (0,)),), 0, 0))
    assert (schedule(h).depth, schedule(h).duration_ns) == (1, 30.0)  # RZ virtual + one RY
    cnot = to_native(Circuit(2, (Gate("CNOT", (0, 1)),), 0, 0))
    timing = schedule(cnot)
    assert (timing.depth, timing.duration_ns, timing.cz_gates, timing.single_gates) == (3, 100.0, 1, 2)
    parallel = to_native(Circuit(3, (Gate("X", (0,)), Gate("X", (1,)), Gate("CZ", (1, 2)), Gate("X", (0,))), 0, 0))
    assert (schedule(parallel).depth, schedule(parallel).duration_ns) == (2, 70.0)
    assert schedule(parallel, 10.0, 100.0).duration_ns == 110.0
    assert math.isclose(schedule(cnot, 30.0, 40.0).duration_ns, 100.0)
