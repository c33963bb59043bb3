"""Exact noisy simulation of a native-gate circuit (RX, RY, RZ, CZ) under a `NoiseSpec`, batched in torch.

Channel model, per gate in circuit order:
- one-qubit gate on wire w (RZ excepted: virtual, noiseless, 0 ns): the gate, then depolarising
  lambda_w, then thermal relaxation of w over `single_gate_ns`;
- two-qubit gate on (a, b): the gate, then two-qubit depolarising lambda_ab (`pairs[(min, max)]`), then
  thermal relaxation of a and of b over `cz_gate_ns`;
- read-out: each wire's column-stochastic confusion [[P(0|0), 1-P(1|1)], [1-P(0|0), P(1|1)]], as a tensor
  product. Idle qubits do not decay (noise is attached to gates, as in an Aer gate-error NoiseModel).
How `scale` acts and the T2 <= 2 T1 clamp: see `qwthn_wukong.density.channels`.

How it is exact and fast: the density matrix is held as real Pauli coefficients (4 per wire) and every
channel as a real Pauli transfer matrix (PTM). One-qubit channels are never applied alone: they accumulate
per wire and are folded into the next two-qubit channel on that wire (one [16, 16] matrix per two-qubit
gate, depolarising and relaxation included). Wires are kept in clusters that only merge (tensor product)
when a two-qubit gate first joins them, so the state starts as a product of one-qubit states. After a
wire's last two-qubit gate, its remaining gates, the Z measurement and the read-out confusion are folded
into that gate's matrix too, which shrinks the wire from 4 Pauli coefficients to 2 outcome probabilities.
On a CZ chain the state therefore never holds more than about 2^k * 16 numbers per row, and the result is
the [B, 2^n] outcome distribution directly. Shared-weight channels stay unbatched and broadcast.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qwthn.contract.circuit import Circuit, Gate
from qwthn.contract.gates import GATES
from qwthn_wukong.density.channels import (
    MEASURE,
    ZERO,
    confusion_matrix,
    pair_noise_ptm,
    rotation_ptm,
    single_noise_ptm,
    unitary_ptm,
    unitary_ptm_torch,
)
from qwthn_wukong.noise_spec import NoiseSpec

VIRTUAL_GATES = frozenset({"RZ"})
"""Gates the chip applies as a frame change: no noise, no duration."""

_FIXED_PTM: dict[str, np.ndarray] = {}


def noisy_probabilities(
    circuit: Circuit,
    inputs: torch.Tensor,
    weights: torch.Tensor,
    noise: NoiseSpec,
    *,
    readout: bool = True,
) -> torch.Tensor:
    """[B, 2^n] float64 big-endian outcome probabilities of the noisy circuit, read-out confusion included.

    inputs: [B, n_inputs] (a 1-D tensor is one row); weights: [n_weights] shared or [B, n_weights].
    float32 or float64; the result is float64 on the inputs' device. `readout=False` leaves out the
    confusion matrices (the probabilities of the state just before measurement).
    """
    with torch.no_grad():
        return _Run(circuit, inputs, weights, noise, readout).probabilities()


def sample_probabilities(probs: torch.Tensor, shots: int, seed: int | None = None) -> torch.Tensor:
    """Frequencies counts/shots [B, 2^n] float64 from `shots` multinomial draws per row (numpy Generator(seed))."""
    if shots < 1:
        raise ValueError(f"shots must be >= 1, got {shots}")
    values = probs.detach().to("cpu", torch.float64).numpy()
    values = np.clip(values, 0.0, None)
    values = values / values.sum(axis=-1, keepdims=True)
    counts = np.random.default_rng(seed).multinomial(shots, values)
    return torch.as_tensor(counts / shots, dtype=torch.float64, device=probs.device)


def mitigate_readout(probs: torch.Tensor, noise: NoiseSpec, *, clip: bool = True) -> torch.Tensor:
    """Undo read-out confusion: apply the tensor product of the per-wire inverse confusion matrices.

    probs: [..., 2^n] big-endian, n = log2 of the last dimension (wires 0..n-1 of `noise`); the confusion
    matrices are the ones the engine applies (so `noise.scale` acts the same way). The inverse keeps
    each row's sum; with `clip` (default) negative entries are then set to 0 and rows renormalised to
    sum 1 (entries then lie in [0, 1]); with `clip=False` the raw quasi-probabilities are returned.
    """
    n = round(math.log2(probs.shape[-1]))
    if 2**n != probs.shape[-1] or n > len(noise.wires):
        raise ValueError(f"probs must have 2^n entries with n <= {len(noise.wires)} wires, got {probs.shape[-1]}")
    batch = probs.shape[:-1]
    out = probs.detach().to(torch.float64).reshape(-1, *(2,) * n)
    for wire in range(n):
        inverse = torch.as_tensor(np.linalg.inv(confusion_matrix(noise, wire)), device=out.device)
        out = torch.movedim(torch.tensordot(out, inverse, dims=([wire + 1], [1])), -1, wire + 1)
    out = out.reshape(*batch, 2**n)
    if clip:
        out = out.clamp_min(0.0)
        out = out / out.sum(dim=-1, keepdim=True)
    return out


def _kron(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Kronecker product of the last two dims, broadcasting leading (batch) dims."""
    p, q = left.shape[-2:]
    r, s = right.shape[-2:]
    product = left[..., :, None, :, None] * right[..., None, :, None, :]
    return product.reshape(*product.shape[:-4], p * r, q * s)


def _fixed_ptm(name: str) -> np.ndarray:
    if name not in _FIXED_PTM:
        _FIXED_PTM[name] = unitary_ptm(GATES[name].matrix(0.0))
    return _FIXED_PTM[name]


class _Run:
    def __init__(
        self, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor, noise: NoiseSpec, readout: bool
    ) -> None:
        if len(noise.wires) < circuit.n_qubits:
            raise ValueError(f"NoiseSpec describes {len(noise.wires)} wires, the circuit has {circuit.n_qubits}")
        if noise.scale < 0:
            raise ValueError(f"noise scale must be >= 0, got {noise.scale}")
        inputs = torch.as_tensor(inputs)
        self.device = inputs.device
        self.inputs = (inputs.reshape(1, -1) if inputs.dim() == 1 else inputs).to(torch.float64)
        self.batch = self.inputs.shape[0]
        self.weights = torch.as_tensor(weights, device=self.device).to(torch.float64)
        if self.weights.dim() == 2 and self.weights.shape[0] != self.batch:
            if self.inputs.shape[1] == 0 and self.batch == 1:
                self.batch = self.weights.shape[0]
            else:
                raise ValueError(f"weights rows {self.weights.shape[0]} differ from inputs rows {self.batch}")
        self.circuit, self.noise, self.readout = circuit, noise, readout
        self._single_noise: dict[int, torch.Tensor] = {}

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=torch.float64, device=self.device)

    def _angle(self, gate: Gate) -> torch.Tensor:
        angle = gate.angle
        assert angle is not None
        if angle.source == "const":
            return torch.tensor(angle.value, dtype=torch.float64, device=self.device)
        if angle.source == "input":
            return self.inputs[:, angle.index]
        return self.weights[..., angle.index]

    def _unitary_ptm(self, gate: Gate) -> torch.Tensor:
        """[4^k, 4^k] or [B, 4^k, 4^k] PTM of the gate alone, in the gate's wire order."""
        spec = gate.spec
        if not spec.parametrised:
            return self._tensor(_fixed_ptm(gate.name))
        angle = self._angle(gate)
        if spec.pauli is not None:
            return rotation_ptm(spec.pauli, angle)
        values = angle.reshape(-1).cpu().numpy()
        matrices = torch.as_tensor(np.stack([spec.matrix(float(v)) for v in values]), device=self.device)
        ptm = unitary_ptm_torch(matrices)
        return ptm[0] if angle.dim() == 0 else ptm

    def _single_channel(self, gate: Gate) -> torch.Tensor:
        ptm = self._unitary_ptm(gate)
        if gate.name in VIRTUAL_GATES:
            return ptm
        wire = gate.wires[0]
        if wire not in self._single_noise:
            self._single_noise[wire] = self._tensor(single_noise_ptm(self.noise, wire))
        return self._single_noise[wire] @ ptm

    def _final_map(self, wire: int) -> torch.Tensor:
        """[2, 4]: Pauli coefficients of one wire -> read (P(0), P(1)), confusion included if `readout`."""
        measure = MEASURE if not self.readout else confusion_matrix(self.noise, wire) @ MEASURE
        return self._tensor(measure)

    def probabilities(self) -> torch.Tensor:
        n, gates = self.circuit.n_qubits, self.circuit.gates
        last_pair: dict[int, int] = {}
        for position, gate in enumerate(gates):
            if len(gate.wires) == 2:
                for wire in gate.wires:
                    last_pair[wire] = position
            elif len(gate.wires) != 1:
                raise ValueError(f"gate {gate.name} on {len(gate.wires)} wires is not supported")
        # After its last two-qubit gate, a wire's gates, measurement and confusion make one [2, 4] map.
        final = [self._final_map(wire) for wire in range(n)]
        tails: list[list[Gate]] = [[] for _ in range(n)]
        for position, gate in enumerate(gates):
            if len(gate.wires) == 1 and position > last_pair.get(gate.wires[0], -1):
                tails[gate.wires[0]].append(gate)
        for wire in range(n):
            for gate in reversed(tails[wire]):
                final[wire] = final[wire] @ self._single_channel(gate)

        pending: list[torch.Tensor | None] = [None] * n
        clusters: dict[int, _Cluster] = {}
        zero = self._tensor(ZERO)
        for position, gate in enumerate(gates):
            if len(gate.wires) == 1:
                wire = gate.wires[0]
                if position < last_pair.get(wire, -1):
                    channel = self._single_channel(gate)
                    pending[wire] = channel if pending[wire] is None else channel @ pending[wire]
                continue
            for wire in gate.wires:
                if wire not in clusters:  # its one-qubit state so far starts a cluster
                    vector = zero if pending[wire] is None else pending[wire] @ zero
                    clusters[wire] = _Cluster([wire], [4], vector.reshape(-1, 4))
                    pending[wire] = None
            first, second = clusters[gate.wires[0]], clusters[gate.wires[1]]
            if first is not second:
                merged = first.merge(second)
                for wire in merged.wires:
                    clusters[wire] = merged
            cluster = clusters[gate.wires[0]]
            # a, b: the gate's wires in the cluster's axis order.
            a, b = sorted(gate.wires, key=cluster.wires.index)
            matrix = self._unitary_ptm(gate)
            if gate.wires[0] != a:
                matrix = matrix.reshape(*matrix.shape[:-2], 4, 4, 4, 4).transpose(-4, -3).transpose(-2, -1)
                matrix = matrix.reshape(*matrix.shape[:-4], 16, 16)
            matrix = self._tensor(pair_noise_ptm(self.noise, a, b)) @ matrix
            if pending[a] is not None or pending[b] is not None:
                eye = self._tensor(np.eye(4))
                before = _kron(eye if pending[a] is None else pending[a], eye if pending[b] is None else pending[b])
                matrix = matrix @ before
                pending[a] = pending[b] = None
            out_a = out_b = 4
            if last_pair[a] == position:
                matrix, out_a = _kron(final[a], self._tensor(np.eye(4))) @ matrix, 2
            if last_pair[b] == position:
                matrix, out_b = _kron(self._tensor(np.eye(out_a)), final[b]) @ matrix, 2
            cluster.apply(a, b, matrix, (out_a, out_b))
        # Wires without a two-qubit gate: all their gates are in `final`.
        for wire in range(n):
            if wire not in clusters:
                clusters[wire] = _Cluster([wire], [2], (final[wire] @ zero).reshape(-1, 2))
        distinct: list[_Cluster] = []
        for wire in range(n):
            if all(clusters[wire] is not other for other in distinct):
                distinct.append(clusters[wire])
        whole = distinct[0]
        for other in distinct[1:]:
            whole = whole.merge(other)
        state = whole.state.reshape(-1, *(2,) * n)
        state = state.permute(0, *(1 + whole.wires.index(wire) for wire in range(n)))
        return state.reshape(-1, 2**n).expand(self.batch, 2**n).contiguous()


class _Cluster:
    """Wires that have met in two-qubit gates: state [rows, prod(dims)] with axes in `wires` order; a wire's
    axis has 4 Pauli coefficients, or 2 outcome probabilities once it has been measured."""

    def __init__(self, wires: list[int], dims: list[int], state: torch.Tensor) -> None:
        self.wires, self.dims, self.state = wires, dims, state

    def merge(self, other: _Cluster) -> _Cluster:
        left, right = self.state, other.state
        rows = max(left.shape[0], right.shape[0])
        state = (left[:, :, None] * right[:, None, :]).reshape(rows, -1)
        return _Cluster(self.wires + other.wires, self.dims + other.dims, state)

    def apply(self, a: int, b: int, matrix: torch.Tensor, out: tuple[int, int]) -> None:
        i, j = self.wires.index(a), self.wires.index(b)
        self.state = _apply_two(self.state, self.dims, i, j, matrix, out)
        self.dims[i], self.dims[j] = out


def _apply_two(
    state: torch.Tensor, dims: list[int], a: int, b: int, matrix: torch.Tensor, out: tuple[int, int]
) -> torch.Tensor:
    """Contract wires a < b of state [rows, prod(dims)] with matrix [(rows,) out_a*out_b, dims[a]*dims[b]]."""
    rows = state.shape[0]
    if matrix.dim() == 3 and rows == 1:
        rows = matrix.shape[0]
        state = state.expand(rows, -1)
    left, middle, right = math.prod(dims[:a]), math.prod(dims[a + 1 : b]), math.prod(dims[b + 1 :])
    size_in = dims[a] * dims[b]
    if matrix.dim() == 2 and middle == 1:
        if right == 1:
            return (state.reshape(-1, size_in) @ matrix.T).reshape(rows, -1)
        return torch.matmul(matrix, state.reshape(rows * left, size_in, right)).reshape(rows, -1)
    view = state.reshape(rows, left, dims[a], middle, dims[b], right)
    if matrix.dim() == 2:
        kernel = matrix.reshape(out[0], out[1], dims[a], dims[b])
        result = torch.einsum("pqij,rlimjk->rlpmqk", kernel, view)
    else:
        kernel = matrix.reshape(rows, out[0], out[1], dims[a], dims[b])
        result = torch.einsum("rpqij,rlimjk->rlpmqk", kernel, view)
    return result.reshape(rows, -1)
