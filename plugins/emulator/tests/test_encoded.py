"""The RY-encoded one-block path (encoded.py) against the gate-by-gate path, and where it must not be taken."""

from __future__ import annotations

import pytest
import torch

from qwthn import get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.methods.qwthn import QWTHNConfig
from qwthn_emulator import backend as emulator_module
from qwthn_emulator.encoded import MAX_ENCODED_QUBITS


def qnn(n_qubits: int, readout: Readout, encoding: str = "RY", reupload: bool = False) -> Circuit:
    """Encoding, then two layers of RX/RY/RZ weights and a CNOT chain (inputs again in layer 2 if `reupload`)."""
    gates = [Gate(encoding, (wire,), Angle.input(wire)) for wire in range(n_qubits)]
    index = 0
    for layer in range(2):
        if reupload and layer:
            gates += [Gate("RY", (wire,), Angle.input(wire)) for wire in range(n_qubits)]
        for wire in range(n_qubits):
            for name in ("RX", "RY", "RZ"):
                gates.append(Gate(name, (wire,), Angle.weight(index)))
                index += 1
        gates += [Gate("CNOT", (wire, wire + 1)) for wire in range(n_qubits - 1)]
    return Circuit(n_qubits, tuple(gates), n_inputs=n_qubits, n_weights=index, readout=readout)


@pytest.fixture
def encoded_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """1 for each evaluation by the one-block path, 2 for each by the re-encoding chain."""
    calls: list[int] = []
    for name, mark in (("evaluate_encoded", 1), ("evaluate_reencoded", 2)):
        original = getattr(emulator_module, name)
        monkeypatch.setattr(emulator_module, name, lambda *a, o=original, m=mark: calls.append(m) or o(*a))
    return calls


def problem(circuit: Circuit, rows: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(circuit.n_qubits)
    inputs = torch.rand(rows, circuit.n_inputs, generator=generator, dtype=dtype) * 6 - 3
    weights = torch.rand(circuit.n_weights, generator=generator, dtype=dtype) * 6 - 3
    return inputs.requires_grad_(), weights.requires_grad_()


def evaluate(circuit: Circuit, inputs, weights, dtype: str = "complex128", **options):
    backend = get_backend("emulator", dtype=dtype, **options)
    out = backend.evaluate(backend.compile(circuit), inputs, weights)
    cotangent = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    return (out, *torch.autograd.grad((out * cotangent).sum(), (inputs, weights)))


READOUTS = [Readout(), Readout("expval_z", (2, 0)), Readout("probs")]


@pytest.mark.parametrize("n_qubits", range(2, MAX_ENCODED_QUBITS + 1))
@pytest.mark.parametrize("readout", READOUTS, ids=["z-all", "z-subset", "probs"])
def test_the_encoded_path_equals_gate_by_gate_with_its_gradients(n_qubits, readout, encoded_calls):
    circuit = qnn(n_qubits, readout if readout.kind == "probs" or n_qubits > 2 else Readout("expval_z", (1, 0)))
    inputs, weights = problem(circuit, rows=33)
    fast = evaluate(circuit, inputs, weights)
    assert encoded_calls == [1]
    stepwise = evaluate(circuit, inputs, weights, fuse_threshold=0)
    assert encoded_calls == [1]  # fuse_threshold=0 evaluates gate by gate
    for ours, reference in zip(fast, stepwise, strict=True):
        torch.testing.assert_close(ours, reference, atol=1e-12, rtol=0)


def test_qwthns_own_circuit_takes_it_in_single_precision_too(encoded_calls):
    circuit = QWTHNConfig(n_qubits=4, n_layers=2).circuit()
    inputs, weights = problem(circuit, rows=257)
    double = evaluate(circuit, inputs, weights)
    single = evaluate(circuit, inputs.detach().float().requires_grad_(), weights.detach().float().requires_grad_(),
                      dtype="complex64")  # fmt: skip
    assert encoded_calls == [1, 1] and single[0].dtype == torch.float32
    for ours, reference in zip(single, double, strict=True):
        torch.testing.assert_close(ours.double(), reference, atol=2e-5, rtol=0)


def test_second_derivatives_through_the_encoded_path_are_exact(encoded_calls):
    circuit = qnn(2, Readout())
    inputs, weights = problem(circuit, rows=3)
    backend = get_backend("emulator", dtype="complex128")
    compiled = backend.compile(circuit)
    assert torch.autograd.gradgradcheck(lambda x, w: backend.evaluate(compiled, x, w), (inputs, weights))
    assert encoded_calls


@pytest.mark.parametrize(
    ("circuit", "why"),
    [
        (qnn(3, Readout(), encoding="RX"), "an RX encoding is complex"),
        (qnn(MAX_ENCODED_QUBITS + 1, Readout()), "too many qubits for a [rows, 2^n] product state"),
    ],
)
def test_circuits_of_another_shape_do_not_take_it(circuit, why, encoded_calls):
    inputs, weights = problem(circuit, rows=4)
    out = evaluate(circuit, inputs, weights)
    assert not encoded_calls, why
    torch.testing.assert_close(out[0], evaluate(circuit, inputs, weights, fuse_threshold=0)[0], atol=1e-12, rtol=0)


def test_per_row_weights_and_shots_do_not_take_it(encoded_calls):
    circuit = qnn(3, Readout())
    inputs, weights = problem(circuit, rows=4)
    backend = get_backend("emulator", dtype="complex128")
    compiled = backend.compile(circuit)
    backend.evaluate(compiled, inputs, weights.detach().expand(4, -1))
    backend.evaluate(compiled, inputs, weights, shots=100, seed=0)
    assert not encoded_calls


def test_a_batch_of_several_chunks_equals_gate_by_gate(encoded_calls, monkeypatch):
    """Rows run in chunks (CHUNK_ROWS) forward and backward; a ragged last chunk included."""
    from qwthn_emulator import encoded

    monkeypatch.setattr(encoded, "CHUNK_ROWS", 16)
    circuit = qnn(3, Readout())
    inputs, weights = problem(circuit, rows=16 * 3 + 5)
    fast = evaluate(circuit, inputs, weights)
    assert encoded_calls == [1]
    for ours, reference in zip(fast, evaluate(circuit, inputs, weights, fuse_threshold=0), strict=True):
        torch.testing.assert_close(ours, reference, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n_qubits", range(2, MAX_ENCODED_QUBITS + 1))
@pytest.mark.parametrize("readout", READOUTS, ids=["z-all", "z-subset", "probs"])
def test_re_encoding_circuits_run_as_a_gemm_chain_equal_to_gate_by_gate(n_qubits, readout, encoded_calls):
    circuit = qnn(n_qubits, readout if readout.kind == "probs" or n_qubits > 2 else Readout("expval_z", (1, 0)),
                  reupload=True)  # fmt: skip
    inputs, weights = problem(circuit, rows=33)
    fast = evaluate(circuit, inputs, weights)
    assert encoded_calls == [2]
    for ours, reference in zip(fast, evaluate(circuit, inputs, weights, fuse_threshold=0), strict=True):
        torch.testing.assert_close(ours, reference, atol=1e-12, rtol=0)


def test_the_authors_circuit_takes_the_chain_through_the_runtime(encoded_calls):
    """QTHA's circuit (RY(h) re-encoded in each of its 4 layers, CRZ lowered to native gates) through a
    QuantumLayer, as an adapter runs it: outputs and gradients equal the gate-by-gate path's."""
    from qwthn.methods.loading import parse_adapter_config
    from qwthn.runtime import Runtime
    from qwthn.runtime.quantum_layer import QuantumLayer

    circuit = parse_adapter_config({"method": "qtha"}).circuit()
    results = []
    for options in ({}, {"fuse_threshold": 0}):
        layer = QuantumLayer(circuit, Runtime(get_backend("emulator", dtype="complex128", **options)), init_seed=0)
        inputs = torch.linspace(-2, 2, 40 * circuit.n_inputs, dtype=torch.float64).view(40, -1).requires_grad_()
        out = layer(inputs)
        weights = layer.weights
        results.append((out, *torch.autograd.grad(out.sin().sum(), (inputs, weights))))
    assert encoded_calls == [2]
    for ours, reference in zip(*results, strict=True):
        torch.testing.assert_close(ours.double(), reference.double(), atol=1e-10, rtol=0)


def test_second_derivatives_through_the_chain_are_exact(encoded_calls):
    circuit = qnn(2, Readout(), reupload=True)
    inputs, weights = problem(circuit, rows=3)
    backend = get_backend("emulator", dtype="complex128")
    compiled = backend.compile(circuit)
    assert torch.autograd.gradgradcheck(lambda x, w: backend.evaluate(compiled, x, w), (inputs, weights))
    assert encoded_calls and set(encoded_calls) == {2}


def test_gradient_free_calls_reuse_unitaries_only_for_the_same_weight_values(monkeypatch):
    """Generation calls each layer per token with unchanged weights: the fixed blocks' unitaries are built once
    per weight values; new values (an optimiser step) rebuild them, and a call that needs gradients never reuses."""
    builds = []
    original = emulator_module.EmulatorBackend._unitaries
    monkeypatch.setattr(emulator_module.EmulatorBackend, "_unitaries",
                        staticmethod(lambda *a: builds.append(1) or original(*a)))  # fmt: skip
    circuit = qnn(3, Readout(), reupload=True)
    inputs, weights = problem(circuit, rows=5)
    backend = get_backend("emulator", dtype="complex128")
    compiled = backend.compile(circuit)
    with torch.no_grad():
        first = backend.evaluate(compiled, inputs, weights)
        again = backend.evaluate(compiled, inputs * 0.5, weights.clone())
        moved = backend.evaluate(compiled, inputs, weights + 0.1)
        stepwise = get_backend("emulator", dtype="complex128", fuse_threshold=0)
        reference = stepwise.compile(circuit)
        torch.testing.assert_close(again, stepwise.evaluate(reference, inputs * 0.5, weights))
        torch.testing.assert_close(moved, stepwise.evaluate(reference, inputs, weights + 0.1))
    assert len(builds) == 2  # the same values reused, new values built
    assert not torch.allclose(first, moved)
    out = backend.evaluate(compiled, inputs, weights)
    assert len(builds) == 3 and out.requires_grad  # with gradients wanted: built, with its graph
