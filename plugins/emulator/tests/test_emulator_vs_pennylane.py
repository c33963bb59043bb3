"""The emulator against PennyLane default.qubit: values and autograd gradients on random circuits.

Circuits are drawn from a seeded generator: any gate order, inputs and weights
anywhere and reused, CNOT/CZ on non-adjacent wires, both read-outs, shared and
per-row weights. Each is checked on the emulator's three execution paths: its own
choice, every fixed block fused into a dense unitary, and gate by gate.
"""

from __future__ import annotations

import random

import pytest
import torch

from qwthn import get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn_emulator import engine

qml = pytest.importorskip("pennylane")

N_CIRCUITS = 60
TOLERANCE = 1e-5
QML_GATES = {"RX": qml.RX, "RY": qml.RY, "RZ": qml.RZ, "H": qml.Hadamard, "X": qml.PauliX, "CZ": qml.CZ}


def random_circuit(rng: random.Random) -> Circuit:
    n = rng.randint(1, 10)
    n_inputs, n_weights = rng.randint(1, 4), rng.randint(1, 6)
    names = ["RX", "RY", "RZ", "H", "X"] + (["CZ", "CNOT"] if n > 1 else [])
    gates = []
    for _ in range(rng.randint(1, 4 * n + 4)):
        name = rng.choice(names)
        if name in ("CZ", "CNOT"):
            gates.append(Gate(name, tuple(rng.sample(range(n), 2))))
        elif name in ("H", "X"):
            gates.append(Gate(name, (rng.randrange(n),)))
        else:
            source = rng.choice(["const", "input", "input", "weight", "weight"])
            angle = {
                "const": lambda: Angle.const(rng.uniform(-4, 4)),
                "input": lambda: Angle.input(rng.randrange(n_inputs)),
                "weight": lambda: Angle.weight(rng.randrange(n_weights)),
            }[source]()
            gates.append(Gate(name, (rng.randrange(n),), angle))
    if rng.random() < 0.5 and n <= 8:
        readout = Readout("probs")
    else:
        readout = Readout("expval_z", tuple(rng.sample(range(n), rng.randint(1, n))))
    return Circuit(n, tuple(gates), n_inputs=n_inputs, n_weights=n_weights, readout=readout)


def pennylane_outputs(circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The same circuit in PennyLane (wires 0..n-1, big-endian like ours), broadcast over the rows."""
    device = qml.device("default.qubit", wires=circuit.n_qubits)

    def angle_value(angle: Angle):
        if angle.source == "input":
            return inputs[:, angle.index]
        if angle.source == "weight":
            return weights[angle.index] if weights.dim() == 1 else weights[:, angle.index]
        return angle.value

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def run():
        for gate in circuit.gates:
            if gate.name == "CNOT":
                qml.CNOT(wires=list(gate.wires))
            elif gate.angle is None:
                QML_GATES[gate.name](wires=list(gate.wires))
            else:
                QML_GATES[gate.name](angle_value(gate.angle), wires=list(gate.wires))
        if circuit.readout.kind == "probs":
            return qml.probs(wires=range(circuit.n_qubits))
        return [qml.expval(qml.PauliZ(wire)) for wire in circuit.readout.wires]

    result = run()
    if circuit.readout.kind == "expval_z":
        result = torch.stack([torch.as_tensor(value, dtype=torch.float64) for value in result], dim=-1)
    return result.expand(inputs.shape[0], -1) if result.dim() == 1 else result


def values_and_gradients(outputs: torch.Tensor, cotangent: torch.Tensor, *leaves: torch.Tensor) -> list[torch.Tensor]:
    if outputs.requires_grad:
        grads = torch.autograd.grad((outputs * cotangent).sum(), leaves, allow_unused=True)
    else:  # no gate reads an input or a weight
        grads = (None,) * len(leaves)
    return [outputs.detach()] + [
        torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads, strict=True)
    ]


@pytest.mark.parametrize("seed", range(N_CIRCUITS))
def test_random_circuit_matches_pennylane(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    circuit = random_circuit(rng)
    generator = torch.Generator().manual_seed(seed)
    rows = rng.randint(1, 5)
    inputs = torch.rand(rows, circuit.n_inputs, generator=generator, dtype=torch.float64) * 8 - 4
    weight_shape = (rows, circuit.n_weights) if seed % 3 == 0 else (circuit.n_weights,)
    weights = torch.rand(weight_shape, generator=generator, dtype=torch.float64) * 8 - 4
    cotangent = torch.randn(rows, circuit.n_outputs, generator=generator, dtype=torch.float64)

    inputs_pl, weights_pl = inputs.clone().requires_grad_(), weights.clone().requires_grad_()
    expected = values_and_gradients(pennylane_outputs(circuit, inputs_pl, weights_pl), cotangent, inputs_pl, weights_pl)

    paths = {"auto": {}, "gate by gate": {"fuse_threshold": 0}, "dense": {}}
    for path, options in paths.items():
        if path == "dense":
            monkeypatch.setattr(engine, "should_fuse", lambda n, *_: n <= engine.MAX_FUSED_QUBITS)
        backend = get_backend("emulator", dtype="complex128", **options)
        ours_in, ours_w = inputs.clone().requires_grad_(), weights.clone().requires_grad_()
        outputs = backend.evaluate(backend.compile(circuit), ours_in, ours_w)
        assert outputs.shape == (rows, circuit.n_outputs) and outputs.dtype == torch.float64
        actual = values_and_gradients(outputs, cotangent, ours_in, ours_w)
        for what, ours, theirs in zip(("values", "input grads", "weight grads"), actual, expected, strict=True):
            torch.testing.assert_close(
                ours, theirs, atol=TOLERANCE, rtol=0, msg=lambda m, w=what, p=path: f"{p} {w}: {m}"
            )
