"""A pyqpanda3 `NoiseModel` from a `NoiseSpec`, matching `qwthn_wukong.engine`'s channel model.

Checked against pyqpanda3 0.5.1 (`DensityMatrixSimulator` agrees with `engine.noisy_probabilities`
to ~1e-12, see tests):
- `depolarizing_error(λ)` uses the λ convention (ρ -> (1-λ)ρ + λ I/2) on one qubit, but attached to a
  two-qubit gate it acts as *independent one-qubit* depolarising on each operand. So it is not used for
  CZ: the pair channel is a custom two-qubit Kraus `QuantumError`.
- Several errors on one gate apply in the order they were added; to be safe each gate gets *one* error,
  the exact composition (relaxation after depolarising, as in the engine), reduced to a minimal Kraus
  set through its Choi matrix.
- `decoherence_error(T1, T2, t)` would match the engine's relaxation (γ = 1 - e^{-t/T1}, coherence
  e^{-t/T2}) but is not used, so that `scale` and the T2 <= 2 T1 clamp come from
  `qwthn_wukong.density.channels` exactly.
- A two-qubit Kraus error is little-endian (qiskit's convention): its qubit 0 is the gate's *first
  operand*, whatever qubit order the error was registered with (registration is unordered: [a, b]
  also matches a gate on (b, a)). `origin.translate` emits CZ(min, max), so CZ is exact.
  APPROXIMATION: a CNOT(c, t) with c > t gets the pair channel with the two wires' T1/T2 relaxation
  swapped (its depolarising part is symmetric, hence exact). Identical when the wires share T1/T2.
- `add_read_out_error(M, q)`: M rows are the prepared state, M = [[P(0|0), 1-P(0|0)], [1-P(1|1), P(1|1)]]
  (checked: reading |0> with [[.9,.1],[.3,.7]] gives P(1) = .1). It acts in CPUQVM sampling only;
  `DensityMatrixSimulator` ignores it.
- One-qubit noise follows every RX, RY, H and X; RZ is virtual and noiseless, as in the engine. Idle
  qubits do not decay in either.
"""

from __future__ import annotations

import numpy as np

from qwthn_wukong.density.channels import confusion_matrix, relaxation_factors, scaled_lambda
from qwthn_wukong.noise_spec import NoiseSpec

NOISY_SINGLE_GATES = ("RX", "RY", "H", "X")
PAIR_GATES = ("CZ", "CNOT")

_I = np.eye(2, dtype=complex)
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.diag([1.0, -1.0]).astype(complex)
_PAULIS = (_I, _X, _Y, _Z)


def depolarizing_kraus(lam: float, k: int) -> list[np.ndarray]:
    """ρ -> (1-λ)ρ + λ I/d on k qubits: identity weight 1 - λ(d²-1)/d², every other Pauli λ/d²."""
    d2 = 4**k
    ops = [np.ones((1, 1), dtype=complex)]
    for _ in range(k):
        ops = [np.kron(a, p) for a in ops for p in _PAULIS]
    weights = [1.0 - lam * (d2 - 1) / d2] + [lam / d2] * (d2 - 1)
    return [np.sqrt(w) * op for w, op in zip(weights, ops, strict=True) if w > 0]


def relaxation_kraus(gamma: float, coherence: float) -> list[np.ndarray]:
    """Amplitude damping γ towards |0>, then pure dephasing so that the total coherence is `coherence`."""
    damp = [np.array([[1, 0], [0, np.sqrt(1 - gamma)]], dtype=complex), np.array([[0, np.sqrt(gamma)], [0, 0]])]
    remaining = 1.0 if gamma >= 1 else min(coherence / np.sqrt(1 - gamma), 1.0)
    dephase = [np.sqrt((1 + remaining) / 2) * _I, np.sqrt((1 - remaining) / 2) * _Z]
    return [p @ a for p in dephase for a in damp]


def compose(after: list[np.ndarray], before: list[np.ndarray]) -> list[np.ndarray]:
    return [a @ b for a in after for b in before]


def minimal_kraus(ops: list[np.ndarray], tol: float = 1e-13) -> list[np.ndarray]:
    """The same channel with at most d² Kraus operators (eigenvectors of its Choi matrix)."""
    d = ops[0].shape[0]
    vecs = np.stack([op.reshape(-1) for op in ops])
    choi = vecs.T @ vecs.conj()
    values, vectors = np.linalg.eigh(choi)
    return [np.sqrt(v) * vectors[:, i].reshape(d, d) for i, v in enumerate(values) if v > tol]


def is_identity(ops: list[np.ndarray]) -> bool:
    return len(ops) == 1 and np.allclose(ops[0] * np.conj(ops[0][0, 0]) / abs(ops[0][0, 0]), np.eye(ops[0].shape[0]))


def single_kraus(noise: NoiseSpec, wire: int) -> list[np.ndarray]:
    """After a physical one-qubit gate on `wire`: depolarising, then relaxation over `single_gate_ns`."""
    spec = noise.wires[wire]
    depol = depolarizing_kraus(scaled_lambda(spec.depolarizing, noise.scale), 1)
    relax = relaxation_kraus(*relaxation_factors(spec, noise.single_gate_ns, noise.scale))
    return minimal_kraus(compose(relax, depol))


def pair_kraus(noise: NoiseSpec, a: int, b: int) -> list[np.ndarray]:
    """After a two-qubit gate on (a, b): two-qubit depolarising, then relaxation of a and b over `cz_gate_ns`.

    Little-endian, as pyqpanda3 wants: the error's qubit 0 (least significant) is `a`, the gate's first operand.
    """
    key = (min(a, b), max(a, b))
    if key not in noise.pairs:
        known = sorted(noise.pairs)
        raise ValueError(f"NoiseSpec has no two-qubit depolarising strength for pair {key}; known {known}")
    depol = depolarizing_kraus(scaled_lambda(noise.pairs[key], noise.scale), 2)
    relax_a = relaxation_kraus(*relaxation_factors(noise.wires[a], noise.cz_gate_ns, noise.scale))
    relax_b = relaxation_kraus(*relaxation_factors(noise.wires[b], noise.cz_gate_ns, noise.scale))
    relax = [np.kron(rb, ra) for rb in relax_b for ra in relax_a]
    return minimal_kraus(compose(relax, depol))


def readout_matrix(noise: NoiseSpec, wire: int) -> list[list[float]]:
    """pyqpanda3's row-stochastic [[P(0|0), P(1|0)], [P(0|1), P(1|1)]] (row = prepared), scaled as the engine does."""
    return confusion_matrix(noise, wire).T.tolist()


def _error(ops: list[np.ndarray]):
    from pyqpanda3 import core

    return core.QuantumError([list(op.astype(complex).reshape(-1)) for op in ops])


def noise_model(noise: NoiseSpec, n_qubits: int | None = None, *, readout: bool = True):
    """A pyqpanda3 `NoiseModel` for wires 0..n_qubits-1 (default: all wires of `noise`) on qubits of the same index.

    Channels that are the identity (e.g. scale 0) are left out. `readout=False` leaves out the read-out errors.
    """
    from pyqpanda3 import core

    n = len(noise.wires) if n_qubits is None else n_qubits
    if n > len(noise.wires):
        raise ValueError(f"NoiseSpec describes {len(noise.wires)} wires, asked for {n}")
    if noise.scale < 0:
        raise ValueError(f"noise scale must be >= 0, got {noise.scale}")
    model = core.NoiseModel()
    single_types = [getattr(core.GateType, name) for name in NOISY_SINGLE_GATES]
    for wire in range(n):
        ops = single_kraus(noise, wire)
        if not is_identity(ops):
            model.add_quantum_error(_error(ops), single_types, [wire])
    for a, b in sorted(noise.pairs):
        if b >= n:
            continue
        ops = pair_kraus(noise, a, b)
        if not is_identity(ops):
            for name in PAIR_GATES:
                model.add_quantum_error(_error(ops), getattr(core.GateType, name), [a, b])
    if readout:
        for wire in range(n):
            matrix = readout_matrix(noise, wire)
            if matrix[0][1] > 0 or matrix[1][0] > 0:
                model.add_read_out_error(matrix, wire)
    return model
