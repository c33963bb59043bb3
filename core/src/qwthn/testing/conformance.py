"""The backend conformance suite: does a backend plugin honour the contract it declares?

Run it against any installed backend:

    qwthn-backend-test NAME [--options JSON] [pytest args...]
    pytest --pyargs qwthn.testing.conformance --qwthn-backend NAME [--qwthn-backend-options JSON]

Every check goes through the core (`Runtime`, `QuantumLayer`), as users' circuits
do, and compares with the independent NumPy reference of `qwthn.testing.reference`.
What is checked follows only from the backend's declared `Capabilities`: a test
skips when the backend declares it does not apply (no shots, no coupling map,
every gate declared, ...), never because of the backend's name. Tolerances are
stated in `qwthn.testing.harness`: 1e-5 absolute when exact; 5 standard errors
per entry (plus 2 counts) under shots. Circuits come from fixed seeds, so a run
is reproducible; failures name the circuit, the worst entry and the error.

What is certified depends on what the backend declares about noise (the run ends with a
"qwthn conformance verdict" section saying which case applied):

- no noise (`supports_noise=False`): every check runs on the declared configuration; exact
  semantics are certified against the ideal reference.
- noise with an off switch (`capabilities.noise_off`): the exact checks (marked `qwthn_exact`)
  run on the noise-off configuration (its options merged with `noise_off`, which must declare
  `supports_noise=False`) against the ideal reference; the noisy configuration's values are
  compared with the same ideal reference within the bound the backend declares for each circuit
  (`QuantumBackend.noise_bound`, see `NoiseBound`), and its plumbing (chunking, per-row and
  shared weights, dtypes, shots, gradients) with its own exact values, one row per call (marked
  `qwthn_noisy`).
- noise without an off switch (real hardware): the exact checks cannot run; each is reported
  NOT CERTIFIED (not skipped), as are the noisy-vs-reference checks when no bound is declared.
  `qwthn-backend-test` then exits with code 6 (`NOT_CERTIFIED_EXIT`) instead of 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from qwthn.contract.backend import QuantumBackend
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.contract.gates import GATES
from qwthn.errors import CapabilityError, OptionsError
from qwthn.runtime.lowering import lower
from qwthn.testing import reference
from qwthn.testing.harness import (
    BackendUnderTest,
    angles,
    check_gradient,
    check_values,
    gate_names,
    noise_allowance,
    rng_for,
    run_layer,
    run_rows,
    vacuous,
    value_bound,
    worst_case_shot_bound,
)

READOUTS = ("expval_z", "probs")
ROWS = 3
CIRCUITS_PER_SIZE = 2
NOISY_MAX_QUBITS = 4
"""Noisy values are compared with the reference on up to 4 qubits: declared bounds grow with circuit size."""
NOT_CERTIFIED = "NOT CERTIFIED"
"""Prefix of the reason of a check that could not certify anything; reported as such, never as a skip."""

EXACT = pytest.mark.qwthn_exact
"""Exact semantics against the ideal reference: on the declared configuration, or its noise-off one."""
NOISY = pytest.mark.qwthn_noisy
"""The noisy configuration itself; collected only for a backend that declares noise."""

Expected = Callable[[Circuit, torch.Tensor, "torch.Tensor | np.ndarray"], np.ndarray]


def _random(
    backend: BackendUnderTest, rng: np.random.Generator, n_qubits: int, readout: str, **options
) -> Circuit | None:
    """A random circuit over the declared gates (None when none of them fits `n_qubits`)."""
    try:
        return reference.random_circuit(
            rng, n_qubits, gate_names(backend), readout=readout, coupling_map=backend.circuit_coupling, **options
        )
    except ValueError:
        return None


def _reference(circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor | np.ndarray) -> np.ndarray:
    """The ideal NumPy reference."""
    weights = weights.detach().cpu().double().numpy() if isinstance(weights, torch.Tensor) else weights
    return reference.evaluate(circuit, inputs.detach().cpu().double().numpy(), weights)


def _exact(backend: BackendUnderTest) -> BackendUnderTest:
    """The configuration whose values must equal the ideal reference: the backend itself, or its noise-off one.

    A backend that declares noise and no off switch cannot show its ideal semantics: the check is
    reported NOT CERTIFIED, never passed.
    """
    if not backend.noisy:
        return backend
    ideal = backend.ideal()
    if ideal is None:
        pytest.skip(
            f"{NOT_CERTIFIED}: exact semantics: {backend.label} declares noise (supports_noise=True) and no "
            "noise-off configuration (noise_off=None), so its values cannot be compared with the ideal reference"
        )
    return ideal


def _own_exact(backend: BackendUnderTest) -> Expected:
    """The noisy backend's own exact values, one row per call; skips when it has none (exact=False)."""
    if not backend.capabilities.exact:
        pytest.skip("backend declares noise and exact=False: there are no exact values of its own to compare with")
    return backend.self_reference


def _rewritable(backend: BackendUnderTest, gate: str) -> bool:
    """Core's lowering turns `gate` into gates the backend declares."""
    spec = GATES[gate]
    probe = Circuit(spec.n_wires, (Gate(gate, tuple(range(spec.n_wires)), _params(gate, Angle.weight(0))),), 0, 1)
    return lower(probe, backend.capabilities.native_gates).circuit.gate_names <= backend.capabilities.native_gates


def _how(backend: BackendUnderTest, gate: str) -> str:
    return "" if gate in backend.capabilities.native_gates else " (rewritten by core's lowering)"


def _params(gate: str, angle: Angle) -> Angle | None:
    return angle if GATES[gate].parametrised else None


def test_capabilities_are_well_formed(qwthn_backend: BackendUnderTest) -> None:
    instance = qwthn_backend.create()
    caps = qwthn_backend.capabilities
    problems = []
    if instance.name != qwthn_backend.name:
        problems.append(f"it is registered as '{qwthn_backend.name}' but its `name` is '{instance.name}'")
    unknown = sorted(caps.native_gates - set(GATES))
    if unknown:
        problems.append(f"native_gates {unknown} are not in the gate table {sorted(GATES)}")
    if not caps.native_gates & set(GATES):
        problems.append("it declares no gate of the gate table")
    if not (caps.exact or caps.supports_shots):
        problems.append("it declares exact=False and supports_shots=False, so no circuit can run")
    if caps.max_shots is not None and not caps.supports_shots:
        problems.append(f"it declares max_shots={caps.max_shots} but supports_shots=False")
    if caps.coupling_map is not None:
        bad = sorted(p for p in caps.coupling_map if p[0] == p[1] or not all(0 <= w < caps.max_qubits for w in p))
        if bad:
            problems.append(f"coupling_map pairs {bad} are not two different wires in 0..{caps.max_qubits - 1}")
    if caps.gradient == "vjp" and type(instance).vjp is QuantumBackend.vjp:
        problems.append("it declares gradient='vjp' but does not implement vjp()")
    if caps.supports_noise and caps.noise_off is not None:
        try:
            qwthn_backend.ideal()
        except AssertionError as error:
            problems.append(str(error).replace(f"{qwthn_backend.label} declares", "it declares", 1))
    assert not problems, f"{qwthn_backend.label} declares inconsistent capabilities: " + "; ".join(problems)


@EXACT
@pytest.mark.parametrize("readout", READOUTS)
def test_random_circuits_match_reference(qwthn_backend: BackendUnderTest, readout: str) -> None:
    """Random circuits over every declared gate, 1 to min(max_qubits, 10) qubits, shared weights."""
    qwthn_backend = _exact(qwthn_backend)
    shots = qwthn_backend.shots
    runtime = qwthn_backend.runtime(shots=shots, seed=101)
    rng = rng_for("random", readout)
    ran = 0
    for n in range(1, qwthn_backend.checked_qubits + 1):
        for _ in range(CIRCUITS_PER_SIZE):
            circuit = _random(qwthn_backend, rng, n, readout)
            if circuit is None:
                continue
            inputs, weights = angles(rng, ROWS, circuit.n_inputs), angles(rng, circuit.n_weights)
            _, outputs = run_layer(runtime, circuit, inputs, weights)
            check_values(
                outputs,
                _reference(circuit, inputs, weights),
                circuit=circuit,
                label=qwthn_backend.label,
                what=f"random circuit on {n} qubit(s), {readout}",
                shots=shots,
            )
            ran += 1
    if not ran:
        pytest.skip(f"no declared gate fits a circuit of at most {qwthn_backend.checked_qubits} qubits")


def _gate_circuits(backend: BackendUnderTest, gate: str) -> tuple[list[Circuit], str]:
    """One gate at a time (both read-outs) between helper rotations (RY/RZ/RX/H as declared), and the helpers.

    Skips when the backend neither declares `gate` nor the gates core rewrites it into, or has too few qubits.
    """
    caps, spec = backend.capabilities, GATES[gate]
    if gate not in caps.native_gates and not _rewritable(backend, gate):
        pytest.skip(f"backend declares no {gate} gate, nor the gates core rewrites it into")
    n = min(backend.checked_qubits, 3)
    if spec.n_wires > n:
        pytest.skip(f"{gate} needs {spec.n_wires} qubits; backend declares max_qubits={caps.max_qubits}")
    if spec.n_wires == 1:
        placements = [(0,), (n - 1,)]
    else:
        pairs = reference.allowed_pairs(backend.checked_qubits, backend.circuit_coupling)
        if not pairs:
            pytest.skip(f"declared coupling map couples no pair of wires 0..{backend.checked_qubits - 1}")
        placements = [pairs[0], pairs[0][::-1]]
        n = max(n, max(pairs[0]) + 1)  # the first coupled pair may lie beyond wire 2
    tilt = backend.first_declared("RY", "RX", "H")
    twist = backend.first_declared("RZ", "RX", "RY")
    probe = backend.first_declared("RY", "RX", "H")
    gates: list[Gate] = []
    n_inputs = 0

    def helper(name: str | None, wire: int) -> None:
        nonlocal n_inputs
        if name is not None:
            gates.append(Gate(name, (wire,), _params(name, Angle.input(n_inputs))))
            n_inputs += GATES[name].n_angles

    for wire in range(n):
        helper(tilt, wire)
        helper(twist, wire)
    for index, wires in enumerate(placements):
        gates.append(Gate(gate, tuple(wires), _params(gate, Angle.weight(index))))
    for wire in range(n):
        helper(probe, wire)
    helpers = sorted({name for name in (tilt, twist, probe) if name is not None})
    circuits = [
        Circuit(n, tuple(gates), max(n_inputs, 1), len(placements), readout)
        for readout in (Readout("expval_z", tuple(range(n))), Readout("probs"))
    ]
    return circuits, f"gate {gate}{_how(backend, gate)} between helper gates {helpers}"


@EXACT
@pytest.mark.parametrize("gate", sorted(GATES))
def test_gate_matches_reference(qwthn_backend: BackendUnderTest, gate: str) -> None:
    """One gate at a time, between helper rotations (RY/RZ/RX/H as declared) that make every fault visible.

    The helpers run in every gate's test, so a fault in one of them fails several of these
    tests at once; a faulty gate that is no helper fails its own test alone. A gate the backend
    does not declare is checked as core rewrites it into gates the backend does declare.
    """
    qwthn_backend = _exact(qwthn_backend)
    circuits, what = _gate_circuits(qwthn_backend, gate)
    runtime = qwthn_backend.runtime(shots=qwthn_backend.shots, seed=102)
    rng = rng_for("gate", gate)
    for circuit in circuits:
        inputs, weights = angles(rng, 5, circuit.n_inputs), angles(rng, circuit.n_weights)
        _, outputs = run_layer(runtime, circuit, inputs, weights)
        check_values(
            outputs,
            _reference(circuit, inputs, weights),
            circuit=circuit,
            label=qwthn_backend.label,
            what=f"{what}, {circuit.readout.kind}",
            shots=qwthn_backend.shots,
        )


def _check_within_declared_bound(
    backend: BackendUnderTest, runtime, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor, what: str
) -> float | None:
    """Noisy outputs against the ideal reference within the backend's declared bound; the largest allowance used.

    None when the bound admits any value for this circuit (nothing certified by it). The tolerance is the
    declared allowance plus the usual one: exact values' 1e-5, or with shots only (exact=False) the
    5-sigma bound at the worst-case variance.
    """
    bound = backend.noise_bound(circuit)
    if bound is None:
        pytest.skip(
            f"{NOT_CERTIFIED}: noisy values: {backend.label} declares noise but noise_bound() declares no bound, "
            "so its noisy values can only be compared with themselves"
        )
    kind, rows = circuit.readout.kind, inputs.shape[0]
    allowance = noise_allowance(bound, circuit, rows)
    if vacuous(allowance, kind):
        return None
    expected = _reference(circuit, inputs, weights)
    shots = backend.shots
    slack = value_bound(expected, kind, None) if shots is None else worst_case_shot_bound(kind, shots, expected.shape)
    _, outputs = run_layer(runtime, circuit, inputs, weights)
    note = f"declared noise bound: {bound.gates:.3g} from gates, read-out {[round(r, 4) for r in bound.readout]}"
    check_values(
        outputs, expected, circuit=circuit, label=backend.label, what=f"{what} (noisy vs ideal reference)",
        shots=shots, bound=allowance + slack, tolerance_note=note,
    )  # fmt: skip
    return float(allowance.max())


def _record_allowance(record_property, used: list[float | None]) -> None:
    """Report the largest allowance used to the verdict, or NOT CERTIFIED when every bound was vacuous."""
    informative = [value for value in used if value is not None]
    if not informative:
        pytest.skip(
            f"{NOT_CERTIFIED}: noisy values: the declared noise bound admits any value (>= 1 per probability, "
            f">= 2 per <Z>) on every circuit checked ({len(used)})"
        )
    record_property("qwthn_noise_allowance", max(informative))


@NOISY
@pytest.mark.parametrize("readout", READOUTS)
def test_noisy_random_circuits_within_declared_bound(
    qwthn_backend: BackendUnderTest, readout: str, record_property
) -> None:
    """Random circuits on 1 to min(max_qubits, 4) qubits: noisy values within the declared bound of the reference."""
    runtime = qwthn_backend.runtime(shots=qwthn_backend.shots, seed=111)
    rng = rng_for("noisy random", readout)
    used: list[float | None] = []
    for n in range(1, min(qwthn_backend.checked_qubits, NOISY_MAX_QUBITS) + 1):
        for _ in range(CIRCUITS_PER_SIZE):
            circuit = _random(qwthn_backend, rng, n, readout)
            if circuit is None:
                continue
            inputs, weights = angles(rng, ROWS, circuit.n_inputs), angles(rng, circuit.n_weights)
            what = f"random circuit on {n} qubit(s), {readout}"
            used.append(_check_within_declared_bound(qwthn_backend, runtime, circuit, inputs, weights, what))
    if not used:
        pytest.skip(f"no declared gate fits a circuit of at most {NOISY_MAX_QUBITS} qubits")
    _record_allowance(record_property, used)


@NOISY
@pytest.mark.parametrize("gate", sorted(GATES))
def test_noisy_gate_within_declared_bound(qwthn_backend: BackendUnderTest, gate: str, record_property) -> None:
    """Each gate between helper rotations, as in the exact check: noisy values within the declared bound."""
    circuits, what = _gate_circuits(qwthn_backend, gate)
    runtime = qwthn_backend.runtime(shots=qwthn_backend.shots, seed=112)
    rng = rng_for("noisy gate", gate)
    used = []
    for circuit in circuits:
        inputs, weights = angles(rng, 5, circuit.n_inputs), angles(rng, circuit.n_weights)
        used.append(_check_within_declared_bound(
            qwthn_backend, runtime, circuit, inputs, weights, f"{what}, {circuit.readout.kind}"
        ))  # fmt: skip
    _record_allowance(record_property, used)


@EXACT
def test_qubit_ordering(qwthn_backend: BackendUnderTest) -> None:
    """Flipping wire k alone must give probs index 2^(n-1-k) and <Z_k> = -1 in the core's (big-endian) order."""
    qwthn_backend = _exact(qwthn_backend)
    flip = qwthn_backend.first_declared("X", "RX", "RY")
    if flip is None:
        pytest.skip("backend declares none of X, RX, RY: no gate flips one qubit")
    angle = _params(flip, Angle.const(math.pi))
    runtime = qwthn_backend.runtime(shots=qwthn_backend.shots, seed=103)
    for n in range(1, min(qwthn_backend.checked_qubits, 4) + 1):
        for wire in range(n):
            one_hot = np.zeros((1, 2**n))
            one_hot[0, 1 << (n - 1 - wire)] = 1.0
            z = np.ones((1, n))
            z[0, wire] = -1.0
            for readout, expected in ((Readout("probs"), one_hot), (Readout("expval_z", tuple(range(n))), z)):
                circuit = Circuit(n, (Gate(flip, (wire,), angle),), 1, 0, readout)
                _, outputs = run_layer(runtime, circuit, torch.zeros(1, 1, dtype=torch.float64), np.zeros(0))
                check_values(
                    outputs,
                    expected,
                    circuit=circuit,
                    label=qwthn_backend.label,
                    shots=qwthn_backend.shots,
                    what=f"{flip} on wire {wire} of {n} must give {readout.kind} with wire 0 as the most significant "
                    f"bit (probs index {1 << (n - 1 - wire)}) after the core's reordering "
                    f"(declared qubit_ordering='{qwthn_backend.capabilities.qubit_ordering}')",
                )


def _check_weights(qwthn_backend: BackendUnderTest, readout: str, expected: Expected) -> None:
    """weights [W] are shared by every row; weights [B, W] give each row its own (as parameter-shift sends)."""
    shots = qwthn_backend.shots
    runtime = qwthn_backend.runtime(shots=shots, seed=104)
    rng = rng_for("weights", readout)
    n = min(qwthn_backend.checked_qubits, 3)
    circuit = _random(qwthn_backend, rng, n, readout, sources=("weight", "weight", "input", "const"))
    if circuit is None:
        pytest.skip(f"no declared gate fits {n} qubits")
    rows = 5
    inputs, shared = angles(rng, rows, circuit.n_inputs), angles(rng, circuit.n_weights)
    per_row = angles(rng, rows, circuit.n_weights)
    label = qwthn_backend.label
    check_values(
        run_rows(runtime, circuit, inputs, per_row),
        expected(circuit, inputs, per_row),
        circuit=circuit,
        label=label,
        what=f"per-row weights [{rows}, {circuit.n_weights}], {readout}",
        shots=shots,
    )
    check_values(
        run_rows(runtime, circuit, inputs, shared),
        expected(circuit, inputs, shared),
        circuit=circuit,
        label=label,
        what=f"shared weights [{circuit.n_weights}], {readout}",
        shots=shots,
    )
    repeated = shared.unsqueeze(0).expand(rows, -1).contiguous()
    check_values(
        run_rows(runtime, circuit, inputs, repeated),
        expected(circuit, inputs, shared),
        circuit=circuit,
        label=label,
        what=f"per-row weights that repeat one shared row, {readout}",
        shots=shots,
    )


def _check_batch_sizes(qwthn_backend: BackendUnderTest, size: str, expected: Expected) -> None:
    """Any number of rows through the runtime, which chunks to the declared max_batch."""
    caps = qwthn_backend.capabilities
    if size.isdigit():
        rows = int(size)
    elif caps.max_batch is None:
        pytest.skip("backend declares no max_batch: nothing to chunk")
    else:
        rows = 2 * caps.max_batch + 1
    shots = qwthn_backend.shots
    runtime = qwthn_backend.runtime(shots=shots, seed=105)
    rng = rng_for("batch", size)
    n = min(qwthn_backend.checked_qubits, 3)
    circuit = _random(qwthn_backend, rng, n, "probs")
    if circuit is None:
        pytest.skip(f"no declared gate fits {n} qubits")
    pick = torch.arange(rows) % 7  # large batches repeat 7 distinct rows, so the reference stays quick
    inputs = angles(rng, 7, circuit.n_inputs)[pick]
    per_row, shared = angles(rng, 7, circuit.n_weights)[pick], angles(rng, circuit.n_weights)
    _, outputs = run_layer(runtime, circuit, inputs, shared)
    what = f"{rows} row(s) (max_batch={caps.max_batch})"
    label = qwthn_backend.label
    check_values(
        outputs,
        expected(circuit, inputs, shared),
        circuit=circuit,
        label=label,
        what=f"{what}, shared weights",
        shots=shots,
    )
    check_values(
        run_rows(runtime, circuit, inputs, per_row),
        expected(circuit, inputs, per_row),
        circuit=circuit,
        label=label,
        what=f"{what}, per-row weights",
        shots=shots,
    )


def _check_dtypes(qwthn_backend: BackendUnderTest, dtype: torch.dtype, expected: Expected) -> None:
    """float32 and float64 inputs run, and the layer answers in the inputs' dtype."""
    shots = qwthn_backend.shots
    runtime = qwthn_backend.runtime(shots=shots, seed=106)
    rng = rng_for("dtype", dtype)
    n = min(qwthn_backend.checked_qubits, 3)
    for readout in READOUTS:
        circuit = _random(qwthn_backend, rng, n, readout)
        if circuit is None:
            pytest.skip(f"no declared gate fits {n} qubits")
        inputs, weights = angles(rng, ROWS, circuit.n_inputs, dtype=dtype), angles(rng, circuit.n_weights)
        layer, outputs = run_layer(runtime, circuit, inputs, weights)
        assert outputs.dtype == dtype, (
            f"{qwthn_backend.label}: {dtype} inputs gave {outputs.dtype} outputs through QuantumLayer"
        )
        check_values(
            outputs,
            expected(circuit, inputs, layer.weights),
            circuit=circuit,
            label=qwthn_backend.label,
            what=f"{dtype} inputs, {readout}",
            shots=shots,
        )


def _check_shot_estimates(qwthn_backend: BackendUnderTest, readout: str, expected: Expected) -> None:
    """With shots, each entry lies within 5 standard errors (plus 2 counts) of its exact value."""
    caps = qwthn_backend.capabilities
    if not caps.supports_shots:
        pytest.skip("backend declares no shots (supports_shots=False)")
    shots = qwthn_backend.sampling_shots
    runtime = qwthn_backend.runtime(shots=shots, seed=107)
    rng = rng_for("shots", readout)
    ran = 0
    for n in range(1, min(qwthn_backend.checked_qubits, 4) + 1):
        circuit = _random(qwthn_backend, rng, n, readout)
        if circuit is None:
            continue
        inputs, weights = angles(rng, 4, circuit.n_inputs), angles(rng, circuit.n_weights)
        _, outputs = run_layer(runtime, circuit, inputs, weights)
        check_values(
            outputs,
            expected(circuit, inputs, weights),
            circuit=circuit,
            label=qwthn_backend.label,
            what=f"{shots}-shot estimate on {n} qubit(s), {readout}",
            shots=shots,
        )
        ran += 1
    if not ran:
        pytest.skip("no declared gate fits a small circuit")


SIZES = ["1", "7", "2*max_batch+1"]
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])


@EXACT
@pytest.mark.parametrize("readout", READOUTS)
def test_shared_and_per_row_weights(qwthn_backend: BackendUnderTest, readout: str) -> None:
    """weights [W] are shared by every row; weights [B, W] give each row its own (as parameter-shift sends)."""
    _check_weights(_exact(qwthn_backend), readout, _reference)


@EXACT
@pytest.mark.parametrize("size", SIZES)
def test_batch_sizes(qwthn_backend: BackendUnderTest, size: str) -> None:
    """Any number of rows through the runtime, which chunks to the declared max_batch."""
    _check_batch_sizes(_exact(qwthn_backend), size, _reference)


@EXACT
@DTYPES
def test_input_dtypes(qwthn_backend: BackendUnderTest, dtype: torch.dtype) -> None:
    """float32 and float64 inputs run, and the layer answers in the inputs' dtype."""
    _check_dtypes(_exact(qwthn_backend), dtype, _reference)


@EXACT
@pytest.mark.parametrize("readout", READOUTS)
def test_shot_estimates_within_statistical_bound(qwthn_backend: BackendUnderTest, readout: str) -> None:
    """With shots, each entry lies within 5 standard errors (plus 2 counts) of its exact value."""
    _check_shot_estimates(_exact(qwthn_backend), readout, _reference)


@NOISY
@pytest.mark.parametrize("readout", READOUTS)
def test_noisy_shared_and_per_row_weights(qwthn_backend: BackendUnderTest, readout: str) -> None:
    """The noisy configuration's shared and per-row weights against its own exact values, one row per call."""
    _check_weights(qwthn_backend, readout, _own_exact(qwthn_backend))


@NOISY
@pytest.mark.parametrize("size", SIZES)
def test_noisy_batch_sizes(qwthn_backend: BackendUnderTest, size: str) -> None:
    """The noisy configuration's chunked batches against its own exact values, one row per call."""
    _check_batch_sizes(qwthn_backend, size, _own_exact(qwthn_backend))


@NOISY
@DTYPES
def test_noisy_input_dtypes(qwthn_backend: BackendUnderTest, dtype: torch.dtype) -> None:
    """The noisy configuration's float32 and float64 inputs against its own exact values."""
    _check_dtypes(qwthn_backend, dtype, _own_exact(qwthn_backend))


@NOISY
@pytest.mark.parametrize("readout", READOUTS)
def test_noisy_shot_estimates_within_statistical_bound(qwthn_backend: BackendUnderTest, readout: str) -> None:
    """The noisy configuration's shot estimates within 5 standard errors (plus 2 counts) of its own exact values."""
    _check_shot_estimates(qwthn_backend, readout, _own_exact(qwthn_backend))


def test_shots_are_reproducible_with_a_seed(qwthn_backend: BackendUnderTest) -> None:
    """The same runtime seed gives the same estimates; another seed gives other ones."""
    caps = qwthn_backend.capabilities
    if not caps.supports_shots:
        pytest.skip("backend declares no shots (supports_shots=False)")
    spread = qwthn_backend.first_declared("RY", "RX", "H")
    if spread is None:
        pytest.skip("backend declares none of RY, RX, H: no gate makes a superposition")
    shots = min(100, caps.max_shots or 100)
    n = min(qwthn_backend.checked_qubits, 3)
    gates = tuple(Gate(spread, (wire,), _params(spread, Angle.input(wire))) for wire in range(n))
    circuit = Circuit(n, gates, n, 0, Readout("probs"))
    inputs = torch.full((7, n), math.pi / 2, dtype=torch.float64) + 0.1 * torch.arange(7.0).unsqueeze(1)

    def estimate(seed: int) -> torch.Tensor:
        _, outputs = run_layer(qwthn_backend.runtime(shots=shots, seed=seed), circuit, inputs, np.zeros(0))
        return outputs.detach()

    first, again, other = estimate(11), estimate(11), estimate(12)
    label, where = qwthn_backend.label, f"{shots} shots, 7 rows; circuit: {reference.describe(circuit)}"
    if not torch.equal(first, again):
        difference = (first - again).abs().max().item()
        raise AssertionError(
            f"{label}: the same seed gave different estimates (max difference {difference:.3g}); "
            f"sample from a generator seeded by evaluate()'s `seed`; {where}"
        )
    if torch.equal(first, other):
        raise AssertionError(
            f"{label}: seeds 11 and 12 gave identical estimates: it ignores `seed`, or does not sample; {where}"
        )


def _check_layer_gradients(
    backend: BackendUnderTest, runtime, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor, rng
) -> None:
    """d(sum(cotangent * outputs)) / d(inputs, weights) through QuantumLayer against central differences.

    A noisy backend is compared with its own exact values' differences (its channels do not depend on angles).
    """
    layer, outputs = run_layer(runtime, circuit, inputs, weights)
    cotangent = rng.normal(size=(ROWS, circuit.n_outputs))
    (outputs * torch.tensor(cotangent)).sum().backward()
    gradients = backend.self_gradients if backend.noisy else reference.gradients
    grad_inputs, grad_weights = gradients(circuit, inputs.detach().numpy(), weights.numpy(), cotangent)
    for of, actual, expected in (("inputs", inputs.grad, grad_inputs), ("weights", layer.weights.grad, grad_weights)):
        check_gradient(
            actual, expected, of=of, circuit=circuit, label=backend.label, method=backend.capabilities.gradient
        )


@EXACT
@pytest.mark.parametrize("readout", READOUTS)
def test_gradients_match_finite_differences(qwthn_backend: BackendUnderTest, readout: str) -> None:
    """d(sum(cotangent * outputs)) / d(inputs, weights) through QuantumLayer, float64, vs central differences."""
    _check_gradients(_exact(qwthn_backend), readout)


@NOISY
@pytest.mark.parametrize("readout", READOUTS)
def test_noisy_gradients_match_own_finite_differences(qwthn_backend: BackendUnderTest, readout: str) -> None:
    """The noisy configuration's gradients against central differences of its own exact values."""
    _check_gradients(qwthn_backend, readout)


def _check_gradients(qwthn_backend: BackendUnderTest, readout: str) -> None:
    """Gradients of random circuits on 1 to 3 qubits that use every input and weight."""
    caps = qwthn_backend.capabilities
    if not caps.exact:
        pytest.skip("backend declares exact=False: gradients are compared only for exact backends")
    if not any(GATES[name].parametrised for name in gate_names(qwthn_backend)):
        pytest.skip("backend declares no parametrised gate: there is nothing to differentiate")
    runtime = qwthn_backend.runtime()
    rng = rng_for("gradients", readout)
    ran = 0
    for n in range(1, min(qwthn_backend.checked_qubits, 3) + 1):
        for _ in range(20):  # circuits that use every input and weight, so every gradient entry means something
            circuit = _random(qwthn_backend, rng, n, readout, n_gates=2 * n + 4, n_inputs=2, n_weights=2, cover=True)
            if circuit is None or reference.uses_all_parameters(circuit):
                break
        if circuit is None:
            continue
        inputs, weights = angles(rng, ROWS, circuit.n_inputs).requires_grad_(), angles(rng, circuit.n_weights)
        _check_layer_gradients(qwthn_backend, runtime, circuit, inputs, weights, rng)
        ran += 1
    if not ran:
        pytest.skip("no declared gate fits a small circuit")


@EXACT
def test_rewritten_gate_gradients_match_finite_differences(qwthn_backend: BackendUnderTest) -> None:
    """Parametrised gates the backend lacks, rewritten by core (half angles, shared slots), differentiate exactly."""
    qwthn_backend = _exact(qwthn_backend)
    caps = qwthn_backend.capabilities
    missing = [name for name, spec in sorted(GATES.items()) if spec.parametrised and name not in caps.native_gates]
    if not missing:
        pytest.skip("backend declares every gate of the gate table: core rewrites none")
    rewritable = [name for name in missing if _rewritable(qwthn_backend, name)]
    if not rewritable:
        pytest.skip(f"backend declares no gates core rewrites {missing} into")
    if not caps.exact:
        pytest.skip("backend declares exact=False: gradients are compared only for exact backends")
    tilt = qwthn_backend.first_declared("RY", "RX")
    if tilt is None:
        pytest.skip("backend declares neither RY nor RX: no input rotation to make the gates visible")
    pairs = reference.allowed_pairs(qwthn_backend.checked_qubits, qwthn_backend.circuit_coupling)
    runtime = qwthn_backend.runtime()
    checked = 0
    for gate in rewritable:
        wires = (0,) if GATES[gate].n_wires == 1 else (pairs[0] if pairs else None)
        if wires is None:
            continue
        n = max(wires) + 1
        gates = [Gate(tilt, (wire,), Angle.input(wire)) for wire in range(n)]
        gates += [Gate(gate, wires, Angle.weight(0)), Gate(gate, wires[::-1], Angle.input(0))]
        gates += [Gate(tilt, (wire,), Angle.weight(1)) for wire in range(n)]
        rng = rng_for("rewritten gradients", gate)
        for readout in READOUTS:
            circuit = Circuit(n, tuple(gates), n, 2, Readout(readout))
            inputs, weights = angles(rng, ROWS, n).requires_grad_(), angles(rng, 2)
            _check_layer_gradients(qwthn_backend, runtime, circuit, inputs, weights, rng)
        checked += 1
    if not checked:
        pytest.skip("backend declares no coupler among the checked qubits for the rewritten two-qubit gates")


@EXACT
def test_declared_devices(qwthn_backend: BackendUnderTest) -> None:
    """Inputs on each declared device other than the CPU give outputs there, matching the reference."""
    qwthn_backend = _exact(qwthn_backend)
    caps = qwthn_backend.capabilities
    others = [device for device in caps.devices if device != "cpu"]
    if not others:
        pytest.skip(f"backend declares only devices {list(caps.devices)}")
    available = [device for device in others if device != "cuda" or torch.cuda.is_available()]
    if not available:
        pytest.skip(f"backend declares devices {others}, none available on this machine")
    rng = rng_for("devices")
    circuit = _random(qwthn_backend, rng, min(qwthn_backend.checked_qubits, 3), "probs")
    if circuit is None:
        pytest.skip("no declared gate fits a small circuit")
    inputs, weights = angles(rng, ROWS, circuit.n_inputs), angles(rng, circuit.n_weights)
    for device in available:
        runtime = qwthn_backend.runtime(shots=qwthn_backend.shots, seed=109)
        _, outputs = run_layer(runtime, circuit, inputs.to(device), weights)
        assert outputs.device.type == device, (
            f"{qwthn_backend.label}: inputs on {device} gave outputs on {outputs.device}"
        )
        check_values(
            outputs,
            _reference(circuit, inputs, weights),
            circuit=circuit,
            label=qwthn_backend.label,
            what=f"inputs on device '{device}'",
            shots=qwthn_backend.shots,
        )


@EXACT
def test_coupling_map(qwthn_backend: BackendUnderTest) -> None:
    """Coupled pairs run (either direction); an uncoupled pair is refused, or right when the backend routes."""
    qwthn_backend = _exact(qwthn_backend)
    caps = qwthn_backend.capabilities
    if caps.coupling_map is None:
        pytest.skip("backend declares no coupling map (all-to-all)")
    two = [name for name in gate_names(qwthn_backend) if GATES[name].n_wires == 2]
    if not two:
        pytest.skip("backend declares no two-qubit gate")
    entangler = qwthn_backend.first_declared("CNOT", "CZ") or two[0]
    prepare = qwthn_backend.first_declared("H", "RY", "RX")
    limit = qwthn_backend.checked_qubits
    coupled = sorted(pair for pair in caps.coupling_map if max(pair) < limit)
    if not coupled:
        pytest.skip(f"declared coupling map couples no pair among the first {limit} wires")

    def circuit_on(pair: tuple[int, int]) -> Circuit:
        gates = [Gate(prepare, (pair[0],), _params(prepare, Angle.const(1.1)))] if prepare else []
        gates.append(Gate(entangler, pair, _params(entangler, Angle.weight(0))))
        return Circuit(max(pair) + 1, tuple(gates), 1, 1, Readout("probs"))

    def check_runs(pair: tuple[int, int], what: str) -> None:
        circuit = circuit_on(pair)
        inputs, weights = torch.zeros(2, 1, dtype=torch.float64), torch.tensor([0.7], dtype=torch.float64)
        runtime = qwthn_backend.runtime(shots=qwthn_backend.shots, seed=108)
        check_values(
            run_rows(runtime, circuit, inputs, weights),
            _reference(circuit, inputs, weights),
            circuit=circuit,
            label=qwthn_backend.label,
            what=what,
            shots=qwthn_backend.shots,
        )

    a, b = coupled[0]
    check_runs((a, b), f"{entangler} on coupled wires ({a}, {b})")
    check_runs((b, a), f"{entangler} on coupled wires ({b}, {a}) (couplers work in either direction)")
    linked = {frozenset(pair) for pair in caps.coupling_map}
    uncoupled = next(
        ((i, j) for i in range(limit) for j in range(i + 1, limit) if frozenset((i, j)) not in linked), None
    )
    if uncoupled is None:
        return  # every pair within reach is coupled
    if caps.routes:
        check_runs(uncoupled, f"{entangler} on uncoupled wires {uncoupled} (the backend declares routes=True)")
        return
    try:
        qwthn_backend.runtime().prepare(circuit_on(uncoupled))
    except CapabilityError:
        return
    raise AssertionError(
        f"{qwthn_backend.label}: a {entangler} on uncoupled wires {uncoupled} was accepted although it declares "
        "a coupling map and routes=False; it should be refused with CapabilityError"
    )


def test_too_many_qubits_is_refused(qwthn_backend: BackendUnderTest) -> None:
    caps = qwthn_backend.capabilities
    circuit = Circuit(caps.max_qubits + 1, (), 1, 0, Readout("expval_z", (0,)))
    with pytest.raises(CapabilityError, match="qubits"):
        qwthn_backend.runtime().prepare(circuit)


def test_undeclared_gate_is_refused(qwthn_backend: BackendUnderTest) -> None:
    caps = qwthn_backend.capabilities
    missing = sorted(set(GATES) - caps.native_gates)
    if not missing:
        pytest.skip("backend declares every gate of the gate table")
    pairs = reference.allowed_pairs(qwthn_backend.checked_qubits, qwthn_backend.circuit_coupling)
    checked = 0
    for name in missing:
        spec = GATES[name]
        wires = (0,) if spec.n_wires == 1 else (pairs[0] if pairs else None)
        if wires is None:
            continue
        circuit = Circuit(max(wires) + 1, (Gate(name, wires, _params(name, Angle.const(0.3))),), 1, 0)
        try:
            qwthn_backend.runtime().prepare(circuit)
        except CapabilityError as error:
            assert name in str(error), f"refusal of undeclared gate {name} does not name it: {error}"
            checked += 1
            continue
        raise AssertionError(f"{qwthn_backend.label}: undeclared gate {name} was accepted, not refused")
    if not checked:
        pytest.skip("no undeclared gate fits the declared qubits and couplers")


def test_unknown_option_is_refused(qwthn_backend: BackendUnderTest) -> None:
    from qwthn.plugins import get_backend

    options = {**qwthn_backend.options, "no_such_option": 1}
    try:
        get_backend(qwthn_backend.name, **options)
    except OptionsError as error:
        assert "no_such_option" in str(error), f"OptionsError does not name the unknown option: {error}"
        return
    raise AssertionError(
        f"{qwthn_backend.label}: option no_such_option=1 was accepted; its Options model should refuse unknown "
        "options (model_config = ConfigDict(extra='forbid')) so typos raise OptionsError"
    )
