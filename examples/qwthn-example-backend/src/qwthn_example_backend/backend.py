"""A batched NumPy state-vector simulator: every row of a batch evolves at once, gate by gate.

It only translates and executes. The qwthn runtime checks circuits against the capabilities
below, splits work to `max_batch`, retries, hands out shot seeds and computes gradients by
parameter-shift, so none of that is here.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from qwthn import GATES, Capabilities, Circuit, QuantumBackend
from qwthn.contract.backend import check_batch


class ExampleOptions(BaseModel):
    """Validated by qwthn before the backend is built; `qwthn backends example` lists them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_qubits: int = Field(default=12, ge=1, le=16, description="largest circuit accepted")
    max_batch: int | None = Field(default=4096, ge=1, description="most rows per call; the runtime splits larger work")


class ExampleBackend(QuantumBackend):
    name = "example"
    description = "example third-party plugin: batched NumPy state vector with shots"
    Options = ExampleOptions

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_qubits=self.options.max_qubits,
            native_gates=frozenset(GATES),
            gradient="parameter-shift",
            supports_shots=True,
            qubit_ordering="big",
            max_batch=self.options.max_batch,
        )

    def compile(self, circuit: Circuit) -> Circuit:
        return circuit  # nothing to translate: gates are applied from the gate table's matrices

    def evaluate(self, compiled: Circuit, inputs, weights, *, shots=None, seed=None) -> torch.Tensor:
        check_batch(self.name, compiled, inputs, weights, shots)  # direct callers get a clear error
        x = inputs.detach().cpu().double().numpy()
        w = np.broadcast_to(weights.detach().cpu().double().numpy(), (x.shape[0], compiled.n_weights))
        probs = _probabilities(compiled, x, w)
        if shots is not None:
            rng = np.random.default_rng(seed)
            probs = np.stack([rng.multinomial(shots, row / row.sum()) / shots for row in probs])
        values = probs if compiled.readout.kind == "probs" else probs @ _z_signs(compiled)
        return torch.from_numpy(np.ascontiguousarray(values)).to(inputs.device)


def _angles(gate, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    angle = gate.angle
    if angle.source == "input":
        return x[:, angle.index]
    if angle.source == "weight":
        return w[:, angle.index]
    return np.full(x.shape[0], angle.value)


def _probabilities(circuit: Circuit, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """|amplitudes|^2 of every row, big-endian (wire 0 is the most significant bit)."""
    rows, n = x.shape[0], circuit.n_qubits
    state = np.zeros((rows, 2**n), dtype=complex)
    state[:, 0] = 1.0
    for gate in circuit.gates:
        spec = gate.spec
        if spec.parametrised:
            matrices = np.stack([spec.matrix(angle) for angle in _angles(gate, x, w)])
        else:
            matrices = np.broadcast_to(spec.matrix(0.0), (rows, 2**spec.n_wires, 2**spec.n_wires))
        tensor = np.moveaxis(state.reshape((rows,) + (2,) * n), [1 + wire for wire in gate.wires],
                             list(range(1, 1 + len(gate.wires))))  # fmt: skip
        shape = tensor.shape
        tensor = np.einsum("bij,bjr->bir", matrices, tensor.reshape(rows, 2 ** len(gate.wires), -1)).reshape(shape)
        state = np.moveaxis(tensor, list(range(1, 1 + len(gate.wires))), [1 + wire for wire in gate.wires])
        state = state.reshape(rows, 2**n)
    return np.abs(state) ** 2


def _z_signs(circuit: Circuit) -> np.ndarray:
    index = np.arange(2**circuit.n_qubits)[:, None]
    shifts = np.array([circuit.n_qubits - 1 - wire for wire in circuit.readout.wires])
    return 1.0 - 2.0 * ((index >> shifts) & 1)
