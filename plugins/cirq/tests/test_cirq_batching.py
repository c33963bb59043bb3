"""A batch is ONE Cirq sweep call: forward one, parameter-shift backward one (chunked only by max_batch)."""

from __future__ import annotations

import math

import cirq
import numpy as np
import pytest
import torch

import qwthn_cirq.simulate as simulate
from qwthn import get_backend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime
from qwthn.testing import reference


class SweepSpy:
    """Wraps each simulator the backend builds and records the number of sweep points per call."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[tuple[str, int]] = []
        real = simulate.make_simulator

        def make(options, seed=None):
            simulator = real(options, seed)
            spy = self

            class Recording:
                def simulate_sweep_iter(self, program, params, **kwargs):
                    spy.calls.append(("simulate", len(list(cirq.to_resolvers(params)))))
                    return simulator.simulate_sweep_iter(program, params, **kwargs)

                def run_sweep_iter(self, program, params, **kwargs):
                    spy.calls.append(("run", len(list(cirq.to_resolvers(params)))))
                    return simulator.run_sweep_iter(program, params, **kwargs)

            return Recording()

        monkeypatch.setattr(simulate, "make_simulator", make)


@pytest.mark.parametrize("max_batch", [None, 50])
def test_forward_and_parameter_shift_backward_are_one_sweep_each(monkeypatch, max_batch):
    spy = SweepSpy(monkeypatch)
    circuit = build_qnn_circuit(3, 2, reupload=True)  # 6 input uses + 12 weights: 36 shifted copies
    layer = QuantumLayer(circuit, Runtime(get_backend("cirq", max_batch=max_batch)), init_seed=1).double()
    inputs = torch.rand(6, 3, dtype=torch.float64, requires_grad=True)
    layer(inputs).sum().backward()
    rows = [6, 36 * 6]
    if max_batch is None:
        assert spy.calls == [("simulate", rows[0]), ("simulate", rows[1])]
    else:
        chunks = [min(max_batch, rows[1] - start) for start in range(0, rows[1], max_batch)]
        assert spy.calls == [("simulate", 6)] + [("simulate", size) for size in chunks]
    assert inputs.grad is not None and layer.weights.grad is not None


def test_shots_are_one_run_sweep(monkeypatch):
    spy = SweepSpy(monkeypatch)
    circuit = Circuit(2, (Gate("RY", (0,), Angle.input(0)), Gate("CNOT", (0, 1))), 1, 0, Readout("probs"))
    layer = QuantumLayer(circuit, Runtime(get_backend("cirq"), shots=64, seed=0))
    layer(torch.rand(9, 1))
    assert spy.calls == [("run", 9)]


def test_per_row_and_shared_weights_bind_the_right_rows():
    """Rows differ only in their weights: row b must see weights[b]; shared weights reach every row."""
    circuit = Circuit(
        2, (Gate("RX", (0,), Angle.weight(1)), Gate("CRY", (0, 1), Angle.weight(0)), Gate("RZ", (1,), Angle.input(1))),
        2, 2, Readout("probs"),
    )  # fmt: skip
    backend = get_backend("cirq")
    compiled = backend.compile(circuit)
    rng = np.random.default_rng(0)
    inputs, per_row, shared = rng.uniform(-3, 3, (4, 2)), rng.uniform(-3, 3, (4, 2)), rng.uniform(-3, 3, 2)
    got = backend.evaluate(compiled, torch.tensor(inputs), torch.tensor(per_row))
    np.testing.assert_allclose(got.numpy(), reference.evaluate(circuit, inputs, per_row), atol=1e-12)
    got = backend.evaluate(compiled, torch.tensor(inputs), torch.tensor(shared))
    np.testing.assert_allclose(got.numpy(), reference.evaluate(circuit, inputs, shared), atol=1e-12)
    assert got.dtype == torch.float64


def test_edge_batches():
    """An empty batch, a circuit without parameters, float32 inputs, and constant angles."""
    backend = get_backend("cirq")
    circuit = Circuit(2, (Gate("H", (0,)), Gate("RY", (1,), Angle.const(math.pi))), 1, 0, Readout("expval_z", (1, 0)))
    compiled = backend.compile(circuit)
    assert backend.evaluate(compiled, torch.zeros(0, 1), torch.zeros(0)).shape == (0, 2)
    out = backend.evaluate(compiled, torch.zeros(3, 1, dtype=torch.float32), torch.zeros(0))
    torch.testing.assert_close(out, torch.tensor([[-1.0, 0.0]] * 3, dtype=torch.float64), atol=1e-12, rtol=0)
