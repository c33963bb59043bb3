"""Placement of a circuit's logical wires on calibrated physical qubits, and SWAP routing.

Score of a placement: the log of the product of the calibrated fidelities of everything the
circuit uses there, i.e. sum over physical single-qubit gates of log F_1q(q), over CZ gates of
log F_cz(coupler), and over measured wires of log((P(0|0) + P(1|1)) / 2). Virtual RZ gates cost
nothing. Higher is better; exp(score) is a crude success-probability estimate (no decoherence).

Search: a beam search that places logical wires one at a time, in breadth-first order of the
circuit's interaction graph (the CZ pairs), keeping the `width` best partial placements. In strict
mode each wire goes onto a qubit coupled to the qubits of all its already-placed partners, so a
complete placement needs no SWAP (for the adapter's chain entangler it is a path of n coupled
qubits). When no strict placement exists (e.g. a ring of odd length, a star of degree > 4), the
relaxed mode places the wires on a connected set of qubits, charging an estimated SWAP cost, and
greedy routing inserts SWAPs (three CNOTs each) along shortest paths inside that set; every
placement of the final relaxed beam is routed and the one with the best exact score is kept.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from qwthn.contract.circuit import Circuit, Gate
from qwthn.errors import CapabilityError
from qwthn_wukong.native import decompose, decompose_gate
from qwthn_wukong.profile import ChipProfile
from qwthn_wukong.topology import edge, position


@dataclass(frozen=True)
class Placement:
    physical: tuple[int, ...]
    """slot -> physical qubit; logical wire w starts on slot w."""
    final: tuple[int, ...]
    """logical wire -> slot at the end of the circuit (differs from identity after SWAPs)."""
    gates: tuple[Gate, ...]
    """native gates on slots, SWAPs expanded."""
    swaps: int
    score: float

    @property
    def layout(self) -> tuple[int, ...]:
        """logical wire -> physical qubit at the start."""
        return self.physical


def _usage(native: Circuit) -> tuple[Counter, Counter, set[int]]:
    ones: Counter = Counter()
    pairs: Counter = Counter()
    for gate in native.gates:
        if gate.name == "CZ":
            pairs[edge(*gate.wires)] += 1
        elif gate.name != "RZ":
            ones[gate.wires[0]] += 1
    measured = set(native.readout.wires) if native.readout.kind == "expval_z" else set(range(native.n_qubits))
    return ones, pairs, measured


def _log(value: float) -> float:
    return math.log(max(value, 1e-12))


def score_gates(profile: ChipProfile, physical: Sequence[int], gates, measured_slots) -> float:
    """The score of native `gates` on slots placed on `physical` qubits, reading out `measured_slots`."""
    total = 0.0
    for gate in gates:
        if gate.name == "CZ":
            fidelity = profile.cz_fidelity(physical[gate.wires[0]], physical[gate.wires[1]])
            if fidelity is None:
                raise CapabilityError(f"CZ on uncoupled qubits {physical[gate.wires[0]]}, {physical[gate.wires[1]]}")
            total += _log(fidelity)
        elif gate.name != "RZ":
            total += _log(profile.qubits[physical[gate.wires[0]]].single_fidelity)
    for slot in measured_slots:
        total += _log(profile.qubits[physical[slot]].readout_fidelity)
    return total


def _bfs_order(n: int, adjacency: dict[int, set[int]]) -> list[int]:
    order: list[int] = []
    seen: set[int] = set()
    for start in sorted(range(n), key=lambda w: (-len(adjacency[w]), w)):
        if start in seen:
            continue
        seen.add(start)
        queue = deque([start])
        while queue:
            wire = queue.popleft()
            order.append(wire)
            for other in sorted(adjacency[wire], key=lambda w: (-len(adjacency[w]), w)):
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
    return order


def _search(profile, n, ones, pairs, measured, *, strict: bool, width: int) -> list[tuple[int, ...]]:
    """The final beam, best estimated score first (empty when nothing fits)."""
    adjacency: dict[int, set[int]] = {w: set() for w in range(n)}
    for a, b in pairs:
        adjacency[a].add(b)
        adjacency[b].add(a)
    order = _bfs_order(n, adjacency)
    component_of = {q: i for i, part in enumerate(profile.components()) for q in part}
    sizes = Counter(component_of.values())
    usable = sorted(q for q in profile.qubits if strict or sizes[component_of[q]] >= n)
    cz_values = list(profile.couplers.values())
    swap_log = _log(sorted(cz_values)[len(cz_values) // 2]) if cz_values else -10.0
    beam: list[tuple[float, dict[int, int]]] = [(0.0, {})]
    for wire in order:
        placed_partners = [u for u in adjacency[wire] if u in beam[0][1]]
        grown: dict[tuple, tuple[float, dict[int, int]]] = {}
        for score, mapping in beam:
            used = set(mapping.values())
            if strict and placed_partners:
                sets = [set(profile.neighbours(mapping[u])) for u in placed_partners]
                candidates = set.intersection(*sets) - used
            elif not strict and mapping:
                candidates = {o for q in used for o in profile.neighbours(q)} - used
            else:
                candidates = set(usable) - used
            for qubit in candidates:
                gain = ones[wire] * _log(profile.qubits[qubit].single_fidelity)
                if wire in measured:
                    gain += _log(profile.qubits[qubit].readout_fidelity)
                for partner in placed_partners:
                    count = pairs[edge(wire, partner)]
                    fidelity = profile.cz_fidelity(qubit, mapping[partner])
                    if fidelity is not None:
                        gain += count * _log(fidelity)
                    else:
                        (ra, ca), (rb, cb) = position(qubit), position(mapping[partner])
                        distance = abs(ra - rb) + abs(ca - cb)
                        gain += count * (1 + 3 * max(distance - 1, 1)) * swap_log
                new = dict(mapping)
                new[wire] = qubit
                key = tuple(sorted(new.items()))
                if key not in grown or grown[key][0] < score + gain:
                    grown[key] = (score + gain, new)
        if not grown:
            return []
        beam = sorted(grown.values(), key=lambda item: (-item[0], tuple(sorted(item[1].items()))))[:width]
    return [tuple(mapping[w] for w in range(n)) for _, mapping in beam]


def _route(profile: ChipProfile, physical: tuple[int, ...], native: Circuit) -> tuple[list[Gate], list[int], int]:
    n = len(physical)
    slot_neighbours = {
        s: [t for t in range(n) if t != s and profile.cz_fidelity(physical[s], physical[t]) is not None]
        for s in range(n)
    }
    where = list(range(n))  # logical -> slot
    occupant = list(range(n))  # slot -> logical
    routed: list[Gate] = []
    swaps = 0
    for gate in native.gates:
        if len(gate.wires) == 1:
            routed.append(Gate(gate.name, (where[gate.wires[0]],), gate.angle))
            continue
        a, b = where[gate.wires[0]], where[gate.wires[1]]
        if b not in slot_neighbours[a]:
            path = _shortest_path(slot_neighbours, a, b)
            if path is None:
                raise CapabilityError(
                    f"qubits {physical[a]} and {physical[b]} of the layout are not connected through calibrated "
                    "couplers inside the layout; choose a connected layout"
                )
            for here, there in itertools.pairwise(path[:-1]):
                routed.extend(decompose_gate(Gate("SWAP", (here, there))))
                swaps += 1
                la, lb = occupant[here], occupant[there]
                occupant[here], occupant[there] = lb, la
                where[la], where[lb] = there, here
            a = path[-2]
        routed.append(Gate("CZ", tuple(sorted((a, b)))))
    return routed, where, swaps


def _shortest_path(neighbours: dict[int, list[int]], start: int, goal: int) -> list[int] | None:
    previous = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [goal]
            while path[-1] != start:
                path.append(previous[path[-1]])
            return path[::-1]
        for other in neighbours[node]:
            if other not in previous:
                previous[other] = node
                queue.append(other)
    return None


def place(profile: ChipProfile, native: Circuit, layout: Sequence[int] | None = None, *, width: int = 64) -> Placement:
    """Place and route a native circuit (gates in {RX, RY, RZ, CZ} on logical wires)."""
    n = native.n_qubits
    ones, pairs, measured = _usage(native)
    if layout is not None:
        physical = tuple(int(q) for q in layout)
        if len(physical) != n:
            raise CapabilityError(f"layout has {len(physical)} qubits but the circuit has {n} wires")
        if len(set(physical)) != n:
            raise CapabilityError(f"layout {list(physical)} repeats a qubit")
        unusable = [q for q in physical if q not in profile.qubits]
        if unusable:
            raise CapabilityError(f"layout qubits {unusable} are not calibrated (unusable) in {profile.name}")
    else:
        largest = profile.largest_component()
        needs_coupling = bool(pairs)
        if n > (largest if needs_coupling else len(profile.qubits)):
            raise CapabilityError(
                f"circuit has {n} qubits but the largest connected set of calibrated qubits of {profile.name} "
                f"has {largest}"
            )
        found = _search(profile, n, ones, pairs, measured, strict=True, width=width)
        if found:
            return _routed(profile, found[0], native)
        # no SWAP-free embedding: route every candidate of the relaxed beam and keep the best exact score
        candidates = [
            _routed(profile, physical, native)
            for physical in _search(profile, n, ones, pairs, measured, strict=False, width=width)
        ]
        if not candidates:
            raise CapabilityError(f"no placement of a {n}-qubit circuit found on {profile.name}")
        return max(candidates, key=lambda placement: placement.score)
    return _routed(profile, physical, native)


def _routed(profile: ChipProfile, physical: tuple[int, ...], native: Circuit) -> Placement:
    routed, final, swaps = _route(profile, physical, native)
    expval = native.readout.kind == "expval_z"
    measured_slots = [final[w] for w in native.readout.wires] if expval else list(range(len(physical)))
    return Placement(
        physical, tuple(final), tuple(routed), swaps, score_gates(profile, physical, routed, measured_slots)
    )


def chain_placement(profile: ChipProfile, n_qubits: int, *, layers: int = 1) -> Placement:
    """Where the adapter's chain entangler (RY+RZ per wire, then CZ chain, `layers` times) would go."""
    from qwthn.contract.circuit import Angle

    gates: list[Gate] = []
    for _ in range(layers):
        gates += [Gate("RY", (w,), Angle.const(0.1)) for w in range(n_qubits)]
        gates += [Gate("RZ", (w,), Angle.const(0.1)) for w in range(n_qubits)]
        gates += [Gate("CZ", (w, w + 1)) for w in range(n_qubits - 1)]
    return place(profile, Circuit(n_qubits, tuple(decompose(gates)), 0, 0))
