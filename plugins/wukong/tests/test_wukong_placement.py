"""Placement on calibrated qubits, the calibration score, forced layouts and SWAP routing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from wukong_data import CHIP, CLOUD, file_params

from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.errors import CapabilityError
from qwthn.testing import reference
from qwthn_wukong.backend import logical_probs
from qwthn_wukong.calibration import load_calibration
from qwthn_wukong.native import probs_circuit, to_native
from qwthn_wukong.placement import chain_placement, place, score_gates
from qwthn_wukong.profile import ChipProfile, QubitCalibration, default_profile
from qwthn_wukong.topology import position


def small_profile(qubits, couplers, fidelity=None):
    fidelity = fidelity or {}
    calibrations = {q: QubitCalibration(18.0, 5.0, 0.998, (0.95, 0.85), position(q)) for q in qubits}
    return ChipProfile("small", calibrations, {c: fidelity.get(c, 0.96) for c in couplers})


def is_path(profile, physical):
    return len(set(physical)) == len(physical) and all(
        profile.cz_fidelity(a, b) is not None for a, b in itertools.pairwise(physical)
    )


def all_paths(profile, n):
    def grow(path):
        if len(path) == n:
            yield tuple(path)
            return
        for other in profile.neighbours(path[-1]):
            if other not in path:
                yield from grow([*path, other])

    for start in profile.qubits:
        yield from grow([start])


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_chain_goes_on_a_path_without_swaps(n):
    placement = chain_placement(default_profile(), n)
    assert placement.swaps == 0 and is_path(default_profile(), placement.physical)
    assert placement.final == tuple(range(n))


@pytest.mark.parametrize(("data", "source"), file_params(CLOUD, CHIP))
def test_chain_placement_on_a_calibration_file_is_the_best_path(data, source):
    """On the synthetic files (and the public snapshot when present): the best of all 4-qubit paths."""
    profile = load_calibration(data.path(source))
    n = 4
    placement = chain_placement(profile, n)
    assert placement.swaps == 0 and is_path(profile, placement.physical)
    native = placement.gates
    best = max(score_gates(profile, path, native, range(n)) for path in all_paths(profile, n))
    assert placement.score == pytest.approx(best, abs=1e-9)


def test_score_prefers_better_couplers():
    profile = small_profile(
        [0, 1, 2, 6, 7, 8], [(0, 1), (1, 2), (0, 6), (6, 7), (7, 8), (1, 7), (2, 8)], {(0, 1): 0.90, (1, 2): 0.90}
    )
    placement = chain_placement(profile, 3)
    assert set(placement.physical) in ({6, 7, 8}, {0, 6, 7}, {6, 7, 1}, {7, 8, 2}, {1, 7, 8})
    assert all(profile.cz_fidelity(a, b) > 0.95 for a, b in itertools.pairwise(placement.physical))


def test_forced_layout_is_used_and_checked():
    profile = default_profile()
    circuit = to_native(Circuit(3, (Gate("CZ", (0, 1)), Gate("CZ", (1, 2))), 0, 0))
    assert place(profile, circuit, [14, 20, 21]).physical == (14, 20, 21)
    with pytest.raises(CapabilityError, match="has 2 qubits but the circuit has 3"):
        place(profile, circuit, [0, 1])
    with pytest.raises(CapabilityError, match="repeats"):
        place(profile, circuit, [0, 1, 1])
    sparse = small_profile([0, 1, 2], [(0, 1), (1, 2)])
    with pytest.raises(CapabilityError, match=r"\[9\] are not calibrated"):
        place(sparse, circuit, [0, 1, 9])
    with pytest.raises(CapabilityError, match="not connected"):
        place(default_profile(), circuit, [0, 1, 30])


def _check_routing_preserves_the_circuit(profile, circuit, layout=None):
    placement = place(profile, to_native(circuit), layout)
    routed = probs_circuit(circuit.n_qubits, placement.gates, circuit.n_inputs, circuit.n_weights)
    for gate in routed.gates:
        if gate.name == "CZ":
            assert profile.cz_fidelity(placement.physical[gate.wires[0]], placement.physical[gate.wires[1]])
    rng = np.random.default_rng(3)
    inputs = rng.uniform(-3, 3, (4, circuit.n_inputs))
    weights = rng.uniform(-3, 3, circuit.n_weights)
    import torch

    got = logical_probs(torch.as_tensor(reference.evaluate(routed, inputs, weights)), placement.final).numpy()
    want = reference.evaluate(
        Circuit(circuit.n_qubits, circuit.gates, circuit.n_inputs, circuit.n_weights, Readout("probs")), inputs, weights
    )
    np.testing.assert_allclose(got, want, atol=1e-10)
    return placement


def _entangling(n, pairs):
    gates = [Gate("RY", (w,), Angle.input(w)) for w in range(n)]
    for k, (a, b) in enumerate(pairs):
        gates += [Gate("CNOT", (a, b)), Gate("RX", (b,), Angle.weight(k))]
    return Circuit(n, tuple(gates), n, len(pairs))


def test_triangle_needs_swaps_and_routing_is_exact():
    # the grid is bipartite: a 3-cycle cannot embed, so the router inserts a SWAP
    placement = _check_routing_preserves_the_circuit(default_profile(), _entangling(3, [(0, 1), (1, 2), (2, 0)]))
    assert placement.swaps >= 1


def test_forced_line_layout_routes_long_range_gates():
    circuit = _entangling(4, [(0, 3), (1, 3), (0, 2)])
    placement = _check_routing_preserves_the_circuit(default_profile(), circuit, [0, 1, 2, 3])
    assert placement.swaps >= 2 and placement.final != (0, 1, 2, 3)


def test_star_of_five_embeds_without_swaps():
    circuit = _entangling(5, [(0, 1), (0, 2), (0, 3), (0, 4)])
    placement = _check_routing_preserves_the_circuit(default_profile(), circuit)
    assert placement.swaps == 0 and all(position(q)[0] not in (0, 11) for q in placement.physical[:1])


def test_too_many_qubits_for_the_largest_component():
    profile = small_profile([0, 1, 2, 30, 31], [(0, 1), (1, 2), (30, 31)])
    assert profile.largest_component() == 3
    with pytest.raises(CapabilityError, match="largest connected set of calibrated qubits .* has 3") as error:
        place(profile, to_native(_entangling(4, [(0, 1), (2, 3)])), None)
    assert "\n" not in str(error.value)
    # without two-qubit gates any calibrated qubits do
    placement = place(profile, to_native(Circuit(5, tuple(Gate("X", (w,)) for w in range(5)), 0, 0)))
    assert sorted(placement.physical) == [0, 1, 2, 30, 31]


def test_score_is_a_log_fidelity():
    profile = default_profile()
    placement = chain_placement(profile, 2)
    # one RY per wire, one CZ, two readouts; RZ is free
    expected = 2 * math.log(0.998) + math.log(0.963) + 2 * math.log((0.956 + 0.821) / 2)
    assert placement.score == pytest.approx(expected)


def test_odd_ring_costs_a_single_swap():
    # candidates of the relaxed beam are routed and scored exactly, so the best needs one SWAP only
    ring = [(w, (w + 1) % 5) for w in range(5)]
    placement = _check_routing_preserves_the_circuit(default_profile(), _entangling(5, ring))
    assert placement.swaps == 1
