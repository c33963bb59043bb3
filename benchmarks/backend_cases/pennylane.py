"""PennyLane: the adapter's circuit written by hand in PennyLane, batched (broadcasting) and row by row.

`hand_batched` is what a PennyLane user would write for a batch: one QNode call with
broadcast parameters (angles of shape [B]), so default.qubit simulates all rows in one
pass. `hand_loop` calls the same QNode once per row. Both use the device of OPTIONS, in
exact mode, without gradients (`diff_method=None`). `hand_gradient` is PennyLane's own route to
d(sum of outputs)/d(inputs, weights) on that device: torch backprop through the broadcast QNode.
"""

from __future__ import annotations

from functools import cache

import numpy as np

BACKEND = "pennylane"
OPTIONS = {"device": "default.qubit"}


@cache
def _qnode(n_qubits: int, n_layers: int, diff_method: str | None = None):
    import pennylane as qml

    device = qml.device(OPTIONS["device"], wires=n_qubits)

    @qml.qnode(device, diff_method=diff_method)
    def circuit(inputs, weights):
        # inputs [n] or [n, B]; weights [2nL] or [2nL, B]: the trailing axis, if any, is PennyLane's broadcast axis
        for wire in range(n_qubits):
            qml.RY(inputs[wire], wires=wire)
        for layer in range(n_layers):
            base = layer * 2 * n_qubits
            for wire in range(n_qubits):
                qml.RZ(weights[base + wire], wires=wire)
            for wire in range(n_qubits):
                qml.RY(weights[base + n_qubits + wire], wires=wire)
            if layer < n_layers - 1:
                for wire in range(n_qubits - 1):
                    qml.CZ(wires=[wire, wire + 1])
        return [qml.expval(qml.Z(wire)) for wire in range(n_qubits)]

    return circuit


def hand_batched(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """All B rows in one QNode call: every angle is a length-B array (parameter broadcasting)."""
    inputs, weights = np.asarray(inputs, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    result = _qnode(n_qubits, n_layers)(inputs.T, weights.T)  # n_qubits arrays of shape [B]
    return np.stack([np.asarray(values) for values in result], axis=-1).reshape(inputs.shape[0], n_qubits)


def hand_loop(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One QNode call (one circuit execution) per row."""
    inputs, weights = np.asarray(inputs, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    circuit = _qnode(n_qubits, n_layers)
    return np.array([np.asarray(circuit(x, w), dtype=np.float64) for x, w in zip(inputs, weights, strict=True)])


def hand_gradient(n_qubits: int, n_layers: int, inputs: np.ndarray, weights: np.ndarray):
    """Forward + backprop of sum(outputs) for the batch; weights [W] shared by every row."""
    import torch

    x = torch.tensor(np.asarray(inputs, dtype=np.float64).T, requires_grad=True)
    w = torch.tensor(np.asarray(weights, dtype=np.float64), requires_grad=True)
    outputs = _qnode(n_qubits, n_layers, "backprop")(x, w)
    torch.stack(list(outputs)).sum().backward()
    return x.grad.T.numpy(), w.grad.numpy()
