"""A rigorous bound on how far the engine's noise moves a placed circuit's outputs from the ideal ones.

Declared through the contract (`QuantumBackend.noise_bound` -> `NoiseBound`) so the conformance
suite can compare noisy values with the ideal reference. It uses exactly the channels and scaled
figures the engine applies (`qwthn_wukong.density.channels`), per native gate of the placed program:

- Trace distance cannot grow under channels, so with each noisy step written N_g o U_g, telescoping
  gives 1/2 ||rho_noisy - rho_ideal||_1 <= sum_g eps_g, eps_g = 1/2 ||N_g - id||_diamond, and the
  outcome distribution before read-out is at most that far (total variation) from the ideal one.
- Depolarising lambda on d dimensions: N - id = lambda (Omega - id), ||Omega - id||_diamond =
  2 (1 - 1/d^2), so eps = lambda (1 - 1/d^2).
- Relaxation over a gate (PTM x, y -> c x, c y; z -> gamma + (1 - gamma) z, c <= sqrt(1 - gamma) by the
  T2 <= 2 T1 clamp) is amplitude damping gamma followed by a phase flip of probability
  q = (1 - c / sqrt(1 - gamma)) / 2. A Pauli channel has eps = 1 - p_I = q. For amplitude damping,
  with Kraus K0 = 1 - delta |1><1| (delta = 1 - sqrt(1 - gamma)) and K1 = sqrt(gamma) |0><1|, a pure
  input with weight x on |1> gives ||K0 psi K0 - psi||_1 + ||K1 psi K1^+||_1 =
  sqrt(4 delta^2 x (1 - x) + gamma^2 x^2) + gamma x <= 2 gamma (as delta <= gamma), so eps <= gamma.
  A gate's eps is the sum of its channels' (eps of a composition is at most the sum).
- Virtual RZ gates are noiseless: eps = 0.
- Read-out: each wire's confusion flips it with probability at most max(P(1|0), P(0|1)); with readout
  mitigation the engine inverts those matrices exactly, leaving no read-out error.
"""

from __future__ import annotations

import math

from qwthn.contract.backend import NoiseBound
from qwthn.contract.circuit import Circuit
from qwthn_wukong.density.channels import confusion_matrix, relaxation_factors, scaled_lambda
from qwthn_wukong.engine import VIRTUAL_GATES
from qwthn_wukong.noise_spec import NoiseSpec


def depolarizing_distance(lam: float, d: int) -> float:
    """1/2 ||D_lam - id||_diamond for rho -> (1 - lam) rho + lam I/d."""
    return lam * (1.0 - 1.0 / d**2)


def relaxation_distance(noise: NoiseSpec, wire: int, duration_ns: float) -> float:
    """An upper bound on 1/2 ||R - id||_diamond of the engine's relaxation of `wire` over `duration_ns`."""
    gamma, coherence = relaxation_factors(noise.wires[wire], duration_ns, noise.scale)
    if gamma >= 1.0:
        return 1.0
    phase_flip = max(0.0, (1.0 - coherence / math.sqrt(1.0 - gamma)) / 2.0)
    return gamma + phase_flip


def gate_distance(noise: NoiseSpec, name: str, wires: tuple[int, ...]) -> float:
    """eps of the noise the engine attaches to one native gate on slots `wires`."""
    if name in VIRTUAL_GATES:
        return 0.0
    if len(wires) == 1:
        (wire,) = wires
        lam = scaled_lambda(noise.wires[wire].depolarizing, noise.scale)
        return depolarizing_distance(lam, 2) + relaxation_distance(noise, wire, noise.single_gate_ns)
    a, b = wires
    lam = scaled_lambda(noise.pairs[(min(a, b), max(a, b))], noise.scale)
    relax = relaxation_distance(noise, a, noise.cz_gate_ns) + relaxation_distance(noise, b, noise.cz_gate_ns)
    return depolarizing_distance(lam, 4) + relax


def noise_bound(native: Circuit, noise: NoiseSpec, final: tuple[int, ...], *, mitigated: bool) -> NoiseBound:
    """The bound for a placed native program on slots; `final[w]` is the slot logical wire w is read on."""
    gates = min(1.0, sum(gate_distance(noise, gate.name, gate.wires) for gate in native.gates))
    if mitigated:
        return NoiseBound(gates=gates)
    readout = []
    for wire in range(len(final)):
        confusion = confusion_matrix(noise, final[wire])
        readout.append(float(max(confusion[1, 0], confusion[0, 1])))
    return NoiseBound(gates=gates, readout=tuple(readout))
