"""An independent NumPy state-vector reference, and random circuits to compare backends against it.

The reference shares nothing with any backend but the gate table's matrices
(`GateSpec.matrix`): a batch of states is a complex array [batch, 2, ..., 2]
with wire w on axis w + 1, so flattening it gives big-endian basis indices (the
core's order). Everything is float64/complex128 and one gate at a time: slow,
but obviously right.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from qwthn.contract.circuit import Angle, Circuit, Gate, Readout, ReadoutKind
from qwthn.contract.gates import GATES
from qwthn.contract.readout import z_expectations


def _angles(circuit: Circuit, gate: Gate, inputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[batch] angles of one parametrised gate."""
    angle = gate.angle
    batch = inputs.shape[0]
    if angle is None or angle.source == "const":
        return np.full(batch, angle.value if angle is not None else 0.0)
    if angle.source == "input":
        return inputs[:, angle.index]
    return weights[:, angle.index]


def _gate_matrices(gate: Gate, angles: np.ndarray) -> np.ndarray:
    """[batch, 2^k, 2^k] matrices of `gate`, one per row (built once per distinct angle; fixed gates once)."""
    spec = GATES[gate.name]
    if not spec.parametrised:
        return spec.matrix(0.0)[None]
    distinct, rows = np.unique(angles, return_inverse=True)
    return np.stack([spec.matrix(float(theta)) for theta in distinct])[rows.reshape(-1)]


def states(circuit: Circuit, inputs: np.ndarray | Sequence, weights: np.ndarray | Sequence) -> np.ndarray:
    """Final states [batch, 2^n] (complex128, big-endian) from |0...0>.

    inputs: [batch, n_inputs]; weights: [n_weights] shared by every row, or [batch, n_weights].
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    inputs = inputs.reshape(1, -1) if inputs.ndim == 1 else inputs
    weights = np.asarray(weights, dtype=np.float64)
    batch, n = inputs.shape[0], circuit.n_qubits
    if inputs.shape != (batch, circuit.n_inputs):
        raise ValueError(f"inputs must be [batch, {circuit.n_inputs}], got {inputs.shape}")
    weights = np.broadcast_to(weights, (batch, circuit.n_weights)) if weights.ndim == 1 else weights
    if weights.shape != (batch, circuit.n_weights):
        raise ValueError(
            f"weights must be [{circuit.n_weights}] or [{batch}, {circuit.n_weights}], got {weights.shape}"
        )
    state = np.zeros((batch, 2**n), dtype=np.complex128)
    state[:, 0] = 1.0
    state = state.reshape((batch,) + (2,) * n)
    for gate in circuit.gates:
        k = len(gate.wires)
        matrices = _gate_matrices(gate, _angles(circuit, gate, inputs, weights))
        matrices = np.broadcast_to(matrices, (batch, 2**k, 2**k)).reshape((batch,) + (2,) * (2 * k))
        axes = [wire + 1 for wire in gate.wires]
        moved = np.moveaxis(state, axes, list(range(1, k + 1)))  # [batch, gate wires..., other wires...]
        out_idx = "abcdefgh"[:k]
        in_idx = "ijklmnop"[:k]
        updated = np.einsum(f"z{out_idx}{in_idx},z{in_idx}...->z{out_idx}...", matrices, moved)
        state = np.moveaxis(updated, list(range(1, k + 1)), axes)
    return state.reshape(batch, 2**n)


def evaluate(circuit: Circuit, inputs: np.ndarray | Sequence, weights: np.ndarray | Sequence) -> np.ndarray:
    """The circuit's read-out [batch, n_outputs] in the core's order (float64), exactly."""
    probs = np.abs(states(circuit, inputs, weights)) ** 2
    if circuit.readout.kind == "probs":
        return probs
    return z_expectations(probs, circuit.n_qubits, circuit.readout.wires)


def gradients(
    circuit: Circuit,
    inputs: np.ndarray,
    weights: np.ndarray,
    cotangent: np.ndarray,
    step: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray]:
    """Central finite differences of sum(cotangent * evaluate(...)) by inputs [batch, I] and shared weights [W]."""
    inputs = np.array(inputs, dtype=np.float64)
    weights = np.array(weights, dtype=np.float64)

    def loss_per_row(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        return (evaluate(circuit, x, w) * cotangent).sum(axis=1)

    grad_inputs = np.zeros_like(inputs)
    for column in range(inputs.shape[1]):
        plus, minus = inputs.copy(), inputs.copy()
        plus[:, column] += step
        minus[:, column] -= step
        grad_inputs[:, column] = (loss_per_row(plus, weights) - loss_per_row(minus, weights)) / (2 * step)
    grad_weights = np.zeros_like(weights)
    for index in range(weights.shape[0]):
        plus, minus = weights.copy(), weights.copy()
        plus[index] += step
        minus[index] -= step
        grad_weights[index] = (loss_per_row(inputs, plus).sum() - loss_per_row(inputs, minus).sum()) / (2 * step)
    return grad_inputs, grad_weights


def allowed_pairs(n_qubits: int, coupling_map: Iterable[tuple[int, int]] | None) -> list[tuple[int, int]]:
    """Ordered wire pairs (control, target) a two-qubit gate may use on `n_qubits` (either direction of a coupler)."""
    if coupling_map is None:
        return [(a, b) for a in range(n_qubits) for b in range(n_qubits) if a != b]
    pairs = set()
    for a, b in coupling_map:
        if a != b and max(a, b) < n_qubits:
            pairs.update({(a, b), (b, a)})
    return sorted(pairs)


def random_circuit(
    rng: np.random.Generator,
    n_qubits: int,
    gate_names: Iterable[str],
    *,
    n_gates: int | None = None,
    n_inputs: int = 2,
    n_weights: int = 3,
    readout: ReadoutKind = "expval_z",
    readout_wires: tuple[int, ...] | None = None,
    coupling_map: Iterable[tuple[int, int]] | None = None,
    sources: Sequence[str] = ("const", "input", "weight"),
    cover: bool = False,
) -> Circuit:
    """A random circuit over `gate_names` (gate-table names), drawn from `rng`.

    Parametrised gates take a constant, an input column or a weight (from `sources`);
    two-qubit gates act only on pairs of `coupling_map` (either direction), and are
    left out when no pair fits. `n_gates` defaults to 3 per qubit plus 2. With
    `readout_wires=None`, expval_z reads a random non-empty subset of wires in random order.
    With `cover`, the first parametrised gates take every input and weight once (in random
    order), so each is used when there are enough of them.
    """
    names = sorted(set(gate_names))
    unknown = [name for name in names if name not in GATES]
    if unknown:
        raise ValueError(f"gates {unknown} are not in the gate table {sorted(GATES)}")
    pairs = allowed_pairs(n_qubits, coupling_map)
    usable = [name for name in names if GATES[name].n_wires == 1 or (GATES[name].n_wires == 2 and pairs)]
    if not usable:
        raise ValueError(f"no gate of {names} fits {n_qubits} qubit(s) with coupling map {coupling_map}")
    n_gates = 3 * n_qubits + 2 if n_gates is None else n_gates
    pending = [("input", i) for i in range(n_inputs)] if "input" in sources else []
    pending += [("weight", i) for i in range(n_weights)] if "weight" in sources else []
    pending = [pending[i] for i in rng.permutation(len(pending))] if cover else []
    gates = []
    for _ in range(n_gates):
        spec = GATES[usable[rng.integers(len(usable))]]
        if spec.n_wires == 1:
            wires: tuple[int, ...] = (int(rng.integers(n_qubits)),)
        else:
            a, b = pairs[rng.integers(len(pairs))]
            wires = (int(a), int(b))
        angle = None
        if spec.parametrised and pending:
            source, index = pending.pop()
            angle = Angle.input(index) if source == "input" else Angle.weight(index)
        elif spec.parametrised:
            source = sources[rng.integers(len(sources))]
            if source == "input" and n_inputs:
                angle = Angle.input(int(rng.integers(n_inputs)))
            elif source == "weight" and n_weights:
                angle = Angle.weight(int(rng.integers(n_weights)))
            else:
                angle = Angle.const(float(rng.uniform(-np.pi, np.pi)))
        gates.append(Gate(spec.name, wires, angle))
    if readout == "probs":
        out = Readout("probs")
    else:
        if readout_wires is None:
            count = int(rng.integers(1, n_qubits + 1))
            readout_wires = tuple(int(wire) for wire in rng.permutation(n_qubits)[:count])
        out = Readout("expval_z", readout_wires)
    return Circuit(n_qubits, tuple(gates), n_inputs, n_weights, readout=out)


def random_angles(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Angles uniform in [-pi, pi), float64."""
    return rng.uniform(-np.pi, np.pi, size=shape)


def uses_all_parameters(circuit: Circuit) -> bool:
    """Whether every input column and every weight feeds some gate."""
    used = {(gate.angle.source, gate.angle.index) for gate in circuit.gates if gate.angle is not None}
    wanted = {("input", i) for i in range(circuit.n_inputs)} | {("weight", i) for i in range(circuit.n_weights)}
    return wanted <= used


def describe(circuit: Circuit, limit: int = 40) -> str:
    """A one-line summary: size, readout and the gate list (first `limit` gates), e.g. `RX(in0)@1 CNOT@0,1`."""

    def angle(gate: Gate) -> str:
        if gate.angle is None:
            return ""
        source = gate.angle.source
        text = (
            f"{gate.angle.value:.3g}"
            if source == "const"
            else f"{'in' if source == 'input' else 'w'}{gate.angle.index}"
        )
        return f"({text})"

    shown = " ".join(f"{g.name}{angle(g)}@{','.join(map(str, g.wires))}" for g in circuit.gates[:limit])
    more = f" ... (+{len(circuit.gates) - limit} more)" if len(circuit.gates) > limit else ""
    readout = "probs" if circuit.readout.kind == "probs" else f"expval_z{list(circuit.readout.wires)}"
    return (
        f"{circuit.n_qubits} qubit(s), {len(circuit.gates)} gate(s) {{{', '.join(sorted(circuit.gate_names))}}}, "
        f"{circuit.n_inputs} input(s), {circuit.n_weights} weight(s), readout {readout}: {shown}{more}"
    )
