"""`NoiseSpec` from a chip profile, a placement and a noise scale.

Convention (see noise_spec.py): depolarising λ as in Aer and pyqpanda3, ρ -> (1-λ) ρ + λ I/d.
(Braket, Cirq and PennyLane use p with λ = 4p/3 on one qubit: the convention table in
/work/shared/design/sdk-facts.md, "Depolarizing conventions differ", shows <Z> = 0.70 for Aer and
pyqpanda3 against 0.60 for the others at the same number 0.3.) A depolarising channel of strength λ
has average gate fidelity F = 1 - λ (d-1)/d, so a calibrated average gate fidelity F gives

    λ = (1 - F) d / (d - 1)          d = 2 for RPhi gates, d = 4 for CZ.

Calibrated (randomized-benchmarking) fidelities already contain the T1/T2 decay during the gate,
which the engine applies separately for each gate's duration. By default that share is taken out
(as Qiskit's `NoiseModel.from_backend` does): with R the relaxation channel of the gate's qubits
for the gate's duration and process fidelities f_pro = ((d+1) F - 1)/d, the depolarising λ that
makes depolarise∘relax reach the calibrated F exactly is

    λ = (f_relax - f_target) / (f_relax - 1/d²),     clipped to [0, 1];

a gate whose calibrated error is all relaxation gets λ = 0. `subtract_relaxation=False` uses the
plain formula. The `scale` goes into the spec unchanged; the engine applies it (0: ideal).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qwthn_wukong.noise_spec import NoiseSpec, WireNoise
from qwthn_wukong.profile import ChipProfile, QubitCalibration
from qwthn_wukong.topology import edge


def depolarizing_from_fidelity(fidelity: float, d: int) -> float:
    """λ of the depolarising channel whose average gate fidelity is `fidelity` (clipped to [0, 1])."""
    return min(max((1.0 - fidelity) * d / (d - 1), 0.0), 1.0)


def relaxation_fidelity(qubit: QubitCalibration, duration_ns: float) -> float:
    """Average gate fidelity of amplitude damping + dephasing (T1, T2 with T2 <= 2 T1) for `duration_ns`."""
    t1 = qubit.t1_us * 1e3
    t2 = min(qubit.t2_us * 1e3, 2 * t1)
    return (3.0 + math.exp(-duration_ns / t1) + 2.0 * math.exp(-duration_ns / t2)) / 6.0


def _process(average: float, d: int) -> float:
    return ((d + 1) * average - 1) / d


def depolarizing_after_relaxation(fidelity: float, relax_process: float, d: int) -> float:
    target = _process(fidelity, d)
    if relax_process <= 1.0 / d**2:
        return 0.0
    return min(max((relax_process - target) / (relax_process - 1.0 / d**2), 0.0), 1.0)


def single_lambda(profile: ChipProfile, qubit: int, subtract_relaxation: bool = True) -> float:
    calibration = profile.qubits[qubit]
    if not subtract_relaxation:
        return depolarizing_from_fidelity(calibration.single_fidelity, 2)
    relax = _process(relaxation_fidelity(calibration, profile.single_gate_ns), 2)
    return depolarizing_after_relaxation(calibration.single_fidelity, relax, 2)


def cz_lambda(profile: ChipProfile, a: int, b: int, subtract_relaxation: bool = True) -> float:
    fidelity = profile.couplers[edge(a, b)]
    if not subtract_relaxation:
        return depolarizing_from_fidelity(fidelity, 4)
    relax = _process(relaxation_fidelity(profile.qubits[a], profile.cz_gate_ns), 2) * _process(
        relaxation_fidelity(profile.qubits[b], profile.cz_gate_ns), 2
    )
    return depolarizing_after_relaxation(fidelity, relax, 4)


def build_noise_spec(
    profile: ChipProfile, physical: Sequence[int], scale: float = 1.0, *, subtract_relaxation: bool = True
) -> NoiseSpec:
    """The noise of slots 0..n-1 placed on `physical` qubits; pairs for every calibrated coupler among them."""
    wires = tuple(
        WireNoise(
            depolarizing=single_lambda(profile, qubit, subtract_relaxation),
            t1_ns=profile.qubits[qubit].t1_us * 1e3,
            t2_ns=profile.qubits[qubit].t2_us * 1e3,
            readout=profile.qubits[qubit].readout,
        )
        for qubit in physical
    )
    pairs = {
        (a, b): cz_lambda(profile, physical[a], physical[b], subtract_relaxation)
        for a in range(len(physical))
        for b in range(a + 1, len(physical))
        if profile.cz_fidelity(physical[a], physical[b]) is not None
    }
    return NoiseSpec(wires, pairs, profile.single_gate_ns, profile.cz_gate_ns, float(scale))
