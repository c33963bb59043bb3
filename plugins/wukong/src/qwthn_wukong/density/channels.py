"""Pauli transfer matrices (PTMs) of gates and noise channels, and how `NoiseSpec.scale` acts.

A density matrix on k qubits is kept as its real Pauli coefficients c_P = Tr(P rho), P in
{I, X, Y, Z}^k (index 4*i_first + i_second, first wire most significant), so rho = sum_P c_P P / 2^k
and c_I = 1. A channel is then a real [4^k, 4^k] matrix R acting as c -> R c (row = output Pauli).

Scaling (s = NoiseSpec.scale, s >= 0):
- depolarising lambda -> min(s * lambda, 1)   (1 = fully depolarising);
- decay rates 1/T1 and 1/T2 -> s/T1, s/T2     (s = 0: no decay);
- readout errors 1 - P(0|0), 1 - P(1|1) -> min(s * error, max(error, 0.5)) each: scaling up stops at
  a coin flip, but a calibrated error already past it (the 2026-03 snapshot has P(1|1) = 0.44) is kept.
T2 > 2 T1 is not physical (not completely positive); such a T2 is clamped to 2 T1.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from qwthn_wukong.noise_spec import NoiseSpec, WireNoise

_PAULI = np.array(
    [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]],
    dtype=np.complex128,
)

MEASURE = np.array([[0.5, 0.0, 0.0, 0.5], [0.5, 0.0, 0.0, -0.5]])
"""Pauli coefficients (1, x, y, z) of one qubit -> (P(0), P(1)) of a Z-basis measurement."""

ZERO = np.array([1.0, 0.0, 0.0, 1.0])
"""The Pauli coefficients of |0>."""


def pauli_basis(k: int) -> np.ndarray:
    """[4^k, 2^k, 2^k] Pauli strings, first wire most significant."""
    basis = _PAULI
    for _ in range(k - 1):
        basis = np.einsum("iab,jcd->ijacbd", basis, _PAULI).reshape(basis.shape[0] * 4, basis.shape[1] * 2, -1)
    return basis


def unitary_ptm(unitary: np.ndarray) -> np.ndarray:
    """PTM of rho -> U rho U^dagger: R_ij = Re Tr(P_i U P_j U^dagger) / d."""
    d = unitary.shape[-1]
    basis = pauli_basis(round(math.log2(d)))
    value = np.einsum("iab,bc,jce,ae->ij", basis, unitary, basis, unitary.conj())
    return value.real / d


def unitary_ptm_torch(unitaries: torch.Tensor) -> torch.Tensor:
    """Batched `unitary_ptm`: [B, d, d] complex -> [B, d^2, d^2] float64."""
    d = unitaries.shape[-1]
    basis = torch.as_tensor(pauli_basis(round(math.log2(d))), device=unitaries.device)
    value = torch.einsum("iab,zbc,jce,zae->zij", basis, unitaries.to(torch.complex128), basis, unitaries.conj())
    return value.real / d


def rotation_ptm(pauli: str, angle: torch.Tensor) -> torch.Tensor:
    """PTM of exp(-i angle P / 2), closed form: a rotation of the Bloch vector by `angle` about P.

    angle: a scalar or [B] float64 tensor -> [4, 4] or [B, 4, 4].
    """
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    if pauli == "X":
        rows = [[one, zero, zero, zero], [zero, one, zero, zero], [zero, zero, c, -s], [zero, zero, s, c]]
    elif pauli == "Y":
        rows = [[one, zero, zero, zero], [zero, c, zero, s], [zero, zero, one, zero], [zero, -s, zero, c]]
    else:
        rows = [[one, zero, zero, zero], [zero, c, -s, zero], [zero, s, c, zero], [zero, zero, zero, one]]
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def scaled_lambda(value: float, scale: float) -> float:
    if value < 0:
        raise ValueError(f"depolarising strength must be >= 0, got {value}")
    return min(scale * value, 1.0)


def depolarizing_ptm(lam: float, k: int) -> np.ndarray:
    """rho -> (1 - lam) rho + lam I/d: every non-identity Pauli coefficient times (1 - lam)."""
    diag = np.full(4**k, 1.0 - lam)
    diag[0] = 1.0
    return np.diag(diag)


def relaxation_factors(wire: WireNoise, duration_ns: float, scale: float) -> tuple[float, float]:
    """(gamma, coherence) over `duration_ns`: P(|1> -> |0>) = 1 - exp(-t s/T1), x, y decay as exp(-t s/T2).

    T2 is clamped to 2 T1 (the largest completely positive value).
    """
    if wire.t1_ns <= 0 or wire.t2_ns <= 0:
        raise ValueError(f"T1 and T2 must be > 0, got {wire.t1_ns}, {wire.t2_ns}")
    t2 = min(wire.t2_ns, 2.0 * wire.t1_ns)
    rate = scale * duration_ns
    return -math.expm1(-rate / wire.t1_ns), math.exp(-rate / t2)


def relaxation_ptm(wire: WireNoise, duration_ns: float, scale: float) -> np.ndarray:
    """Amplitude damping towards |0> plus pure dephasing (Aer's thermal_relaxation_error, no excited population)."""
    gamma, coherence = relaxation_factors(wire, duration_ns, scale)
    return np.array(
        [[1.0, 0.0, 0.0, 0.0], [0.0, coherence, 0.0, 0.0], [0.0, 0.0, coherence, 0.0], [gamma, 0.0, 0.0, 1.0 - gamma]]
    )


def single_noise_ptm(noise: NoiseSpec, wire: int) -> np.ndarray:
    """After a physical one-qubit gate: depolarising, then relaxation over single_gate_ns."""
    spec = noise.wires[wire]
    depol = depolarizing_ptm(scaled_lambda(spec.depolarizing, noise.scale), 1)
    return relaxation_ptm(spec, noise.single_gate_ns, noise.scale) @ depol


def pair_noise_ptm(noise: NoiseSpec, a: int, b: int) -> np.ndarray:
    """After a two-qubit gate on (a, b) (a first in the 16-index): two-qubit depolarising, then relaxation on both."""
    key = (min(a, b), max(a, b))
    if key not in noise.pairs:
        known = sorted(noise.pairs)
        raise ValueError(f"NoiseSpec has no two-qubit depolarising strength for pair {key}; known {known}")
    depol = depolarizing_ptm(scaled_lambda(noise.pairs[key], noise.scale), 2)
    relax = np.kron(
        relaxation_ptm(noise.wires[a], noise.cz_gate_ns, noise.scale),
        relaxation_ptm(noise.wires[b], noise.cz_gate_ns, noise.scale),
    )
    return relax @ depol


def readout_error(value: float, scale: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"readout fidelities must lie in [0, 1], got {value}")
    error = 1.0 - value
    return min(scale * error, max(error, 0.5))


def confusion_matrix(noise: NoiseSpec, wire: int) -> np.ndarray:
    """Column-stochastic [[P(0|0), P(0|1)], [P(1|0), P(1|1)]] (row = read, column = prepared), scaled."""
    p00, p11 = noise.wires[wire].readout
    e0, e1 = readout_error(p00, noise.scale), readout_error(p11, noise.scale)
    return np.array([[1.0 - e0, e1], [e0, 1.0 - e1]])


def lambda_from_fidelity(fidelity: float, n_qubits: int) -> float:
    """Depolarising lambda whose average gate fidelity is `fidelity`: F = 1 - lambda (d-1)/d, d = 2^n_qubits.

    So lambda = (1 - F) d/(d-1): 2 (1 - F) for one qubit, 4/3 (1 - F) for two. (This charges the whole
    infidelity to depolarising; a calibration that also models T1/T2 may subtract their share first.)
    """
    d = 2**n_qubits
    return (1.0 - fidelity) * d / (d - 1)
