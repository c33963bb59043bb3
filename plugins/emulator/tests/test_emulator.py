"""The emulator backend: closed forms, precision, shots, options, plugin registration, CUDA."""

from __future__ import annotations

import math

import pytest
import torch

from qwthn import GATES, CapabilityError, OptionsError, QwthnError, get_backend, list_backends
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.runtime import check_circuit
from qwthn_emulator import engine
from qwthn_emulator.backend import EmulatorBackend

ANGLES = torch.tensor([0.0, 0.3, 1.0, math.pi / 2, 2.5, math.pi, -1.2], dtype=torch.float64)


def emulator_backend(**options) -> EmulatorBackend:
    return get_backend("emulator", **options)


def run(circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor | None = None, **options) -> torch.Tensor:
    backend = emulator_backend(dtype="complex128", **options)
    weights = torch.zeros(circuit.n_weights, dtype=torch.float64) if weights is None else weights
    return backend.evaluate(backend.compile(circuit), inputs, weights)


def qnn(n_qubits: int, n_layers: int, readout: Readout | None = None, encoding: str = "RY") -> Circuit:
    """`encoding` of the inputs, then layers of RX/RY/RZ weights and a CNOT ring (both directions of coupling)."""
    gates = [Gate(encoding, (wire,), Angle.input(wire)) for wire in range(n_qubits)]
    index = 0
    for _ in range(n_layers):
        for wire in range(n_qubits):
            for name in ("RX", "RY", "RZ"):
                gates.append(Gate(name, (wire,), Angle.weight(index)))
                index += 1
        gates += [Gate("CNOT", (wire, (wire + 1) % n_qubits)) for wire in range(n_qubits)]
    return Circuit(n_qubits, tuple(gates), n_inputs=n_qubits, n_weights=index, readout=readout or Readout())


# --- closed forms -----------------------------------------------------------------------------


def test_ry_gives_cosine_expectation() -> None:
    circuit = Circuit(1, (Gate("RY", (0,), Angle.input(0)),), n_inputs=1, n_weights=0)
    torch.testing.assert_close(run(circuit, ANGLES[:, None])[:, 0], torch.cos(ANGLES))


def test_rx_probabilities() -> None:
    circuit = Circuit(1, (Gate("RX", (0,), Angle.input(0)),), n_inputs=1, n_weights=0, readout=Readout("probs"))
    expected = torch.stack((torch.cos(ANGLES / 2) ** 2, torch.sin(ANGLES / 2) ** 2), dim=1)
    torch.testing.assert_close(run(circuit, ANGLES[:, None]), expected)


def test_rz_phase_is_visible_between_hadamards() -> None:
    gates = (Gate("H", (0,)), Gate("RZ", (0,), Angle.weight(0)), Gate("H", (0,)))
    circuit = Circuit(1, gates, n_inputs=0, n_weights=1)
    for angle in ANGLES:
        out = run(circuit, torch.zeros(2, 0, dtype=torch.float64), angle.reshape(1))
        torch.testing.assert_close(out, torch.cos(angle).expand(2, 1))


def test_bell_state() -> None:
    circuit = Circuit(2, (Gate("H", (0,)), Gate("CNOT", (0, 1))), n_inputs=0, n_weights=0, readout=Readout("probs"))
    out = run(circuit, torch.zeros(3, 0, dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor([[0.5, 0.0, 0.0, 0.5]] * 3, dtype=torch.float64))


@pytest.mark.parametrize(("with_cz", "expected"), [(True, [0.5, 0, 0, 0.5]), (False, [0.5, 0, 0.5, 0])])
def test_cz_phase(with_cz: bool, expected: list[float]) -> None:
    """H H, CZ, H on the target is a CNOT: a Bell state. Without the CZ's phase the Hadamards cancel."""
    gates = [Gate("H", (0,)), Gate("H", (1,))] + ([Gate("CZ", (0, 1))] if with_cz else []) + [Gate("H", (1,))]
    circuit = Circuit(2, tuple(gates), n_inputs=0, n_weights=0, readout=Readout("probs"))
    out = run(circuit, torch.zeros(1, 0, dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor([expected], dtype=torch.float64))


def test_big_endian_and_non_adjacent_cnot() -> None:
    """X on wire 2, CNOT(2 -> 0): |101>, basis index 5 when wire 0 is the most significant bit."""
    circuit = Circuit(3, (Gate("X", (2,)), Gate("CNOT", (2, 0))), n_inputs=0, n_weights=0, readout=Readout("probs"))
    out = run(circuit, torch.zeros(1, 0, dtype=torch.float64))
    assert out.argmax().item() == 5 and out[0, 5].item() == pytest.approx(1.0)


def test_expectation_follows_readout_wire_order() -> None:
    gates = (Gate("RY", (0,), Angle.input(0)), Gate("RY", (2,), Angle.input(1)))
    circuit = Circuit(3, gates, n_inputs=2, n_weights=0, readout=Readout("expval_z", (2, 1, 0)))
    inputs = torch.tensor([[0.4, 1.9]], dtype=torch.float64)
    expected = torch.tensor([[math.cos(1.9), 1.0, math.cos(0.4)]], dtype=torch.float64)
    torch.testing.assert_close(run(circuit, inputs), expected)


def test_empty_circuit_is_ground_state() -> None:
    circuit = Circuit(2, (), n_inputs=1, n_weights=0, readout=Readout("probs"))
    out = run(circuit, torch.zeros(2, 1, dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor([[1.0, 0, 0, 0]] * 2, dtype=torch.float64))


# --- execution paths and precision -----------------------------------------------------------


def gradients(outputs: torch.Tensor, *leaves: torch.Tensor) -> tuple[torch.Tensor, ...]:
    cotangent = torch.linspace(-1, 1, outputs.numel(), dtype=outputs.dtype).view_as(outputs)
    return torch.autograd.grad((outputs * cotangent).sum(), leaves)


def random_problem(circuit: Circuit, rows: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.rand(rows, circuit.n_inputs, generator=generator, dtype=torch.float64) * 4 - 2
    weights = torch.rand(circuit.n_weights, generator=generator, dtype=torch.float64) * 4 - 2
    return inputs.requires_grad_(), weights.requires_grad_()


@pytest.mark.parametrize("readout", [Readout(), Readout("probs")])
def test_dense_and_gate_by_gate_paths_agree(readout: Readout, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch much larger than 2^n takes the dense path by default; fuse_threshold=0 forces gate by gate.
    (RX encoding: an RY-encoded circuit of this shape takes the encoded path, tested below.)"""
    dense_calls = []
    apply_unitary = engine.apply_unitary
    monkeypatch.setattr(
        engine, "apply_unitary", lambda *args, **kw: dense_calls.append(1) or apply_unitary(*args, **kw)
    )
    circuit = qnn(4, 3, readout, encoding="RX")
    inputs, weights = random_problem(circuit, rows=256)
    dense = run(circuit, inputs, weights)
    assert dense_calls, "the default options should fuse this block"
    dense_calls.clear()
    stepwise = run(circuit, inputs, weights, fuse_threshold=0)
    assert not dense_calls
    torch.testing.assert_close(dense, stepwise)
    for ours, theirs in zip(gradients(dense, inputs, weights), gradients(stepwise, inputs, weights), strict=True):
        torch.testing.assert_close(ours, theirs)


def test_fuse_decision_for_the_first_block_is_made_once_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Folding the prefix tails into the first block changes its op count; that must not undo the decision."""
    decisions: list[tuple] = []
    dense_calls: list[tuple] = []
    apply_unitary = engine.apply_unitary

    def decide_once(*args) -> bool:
        decisions.append(args)
        return len(decisions) == 1

    def counting_apply_unitary(*args, **kwargs):
        dense_calls.append(args)
        return apply_unitary(*args, **kwargs)

    monkeypatch.setattr(engine, "should_fuse", decide_once)
    monkeypatch.setattr(engine, "apply_unitary", counting_apply_unitary)
    circuit = qnn(3, 2, encoding="RX")
    inputs, weights = random_problem(circuit, rows=4)
    dense = run(circuit, inputs, weights)
    assert len(decisions) == 1 and len(dense_calls) == 1
    torch.testing.assert_close(dense, run(circuit, inputs, weights, fuse_threshold=0))


def test_fuse_rule() -> None:
    """Dense needs more rows than basis states and enough ops to amortise its GEMM; 0 turns it off."""
    assert engine.should_fuse(8, 18, 4096, 32.0)
    assert not engine.should_fuse(8, 18, 256, 32.0)
    assert not engine.should_fuse(8, 1, 4096, 32.0)
    assert not engine.should_fuse(8, 18, 4096, 0.0)
    assert not engine.should_fuse(engine.MAX_FUSED_QUBITS + 1, 10**6, 10**9, 32.0)


def test_per_row_weights_equal_shared_weights_repeated() -> None:
    circuit = qnn(3, 2)
    inputs, weights = random_problem(circuit, rows=5)
    per_row = weights.detach().expand(5, -1).clone().requires_grad_()
    shared_out, per_row_out = run(circuit, inputs, weights), run(circuit, inputs, per_row)
    torch.testing.assert_close(per_row_out, shared_out)
    (shared_grad,) = gradients(shared_out, weights)
    (rows_grad,) = gradients(per_row_out, per_row)
    torch.testing.assert_close(rows_grad.sum(0), shared_grad)


def test_rows_without_inputs_broadcast() -> None:
    circuit = Circuit(2, (Gate("RX", (0,), Angle.weight(0)), Gate("CNOT", (0, 1))), n_inputs=1, n_weights=1)
    out = run(circuit, torch.zeros(4, 1, dtype=torch.float64), torch.tensor([0.7], dtype=torch.float64))
    assert out.shape == (4, 2)
    torch.testing.assert_close(out, torch.full((4, 2), math.cos(0.7), dtype=torch.float64))


def test_complex64_agrees_with_complex128() -> None:
    circuit = qnn(5, 3)
    inputs, weights = random_problem(circuit, rows=40)
    results = {}
    for dtype in ("complex64", "complex128"):
        backend = emulator_backend(dtype=dtype)
        out = backend.evaluate(backend.compile(circuit), inputs, weights)
        results[dtype] = (out, *gradients(out, inputs, weights))
    assert results["complex64"][0].dtype == torch.float32 and results["complex128"][0].dtype == torch.float64
    for single, double in zip(results["complex64"], results["complex128"], strict=True):
        torch.testing.assert_close(single.double(), double, atol=2e-5, rtol=0)


def test_gradcheck_in_double_precision() -> None:
    circuit = qnn(3, 1, Readout("probs"))
    inputs, weights = random_problem(circuit, rows=2)
    backend = emulator_backend(dtype="complex128")
    compiled = backend.compile(circuit)
    assert torch.autograd.gradcheck(lambda x, w: backend.evaluate(compiled, x, w), (inputs, weights))
    assert torch.autograd.gradgradcheck(lambda x, w: backend.evaluate(compiled, x, w), (inputs, weights))


# --- shots -------------------------------------------------------------------------------------


def shot_run(circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor, shots: int, seed: int | None):
    backend = emulator_backend(dtype="complex128")
    return backend.evaluate(backend.compile(circuit), inputs, weights, shots=shots, seed=seed)


def test_same_seed_same_shots_different_seed_different_shots() -> None:
    circuit = qnn(3, 2)
    inputs, weights = random_problem(circuit, rows=8)
    first, again = shot_run(circuit, inputs, weights, 100, 7), shot_run(circuit, inputs, weights, 100, 7)
    other = shot_run(circuit, inputs, weights, 100, 8)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_shot_estimates_converge_to_exact() -> None:
    """Within 5 standard errors per value: var(<Z>) = 1 - <Z>^2, var(p) = p (1 - p), per shot."""
    circuit = qnn(3, 2)
    inputs, weights = random_problem(circuit, rows=6)
    exact = run(circuit, inputs, weights).detach()
    for shots in (400, 40_000):
        estimate = shot_run(circuit, inputs, weights, shots, seed=shots).detach()
        bound = 5 * torch.sqrt((1 - exact**2) / shots) + 1e-12
        assert bool(((estimate - exact).abs() <= bound).all()), shots
    assert (shot_run(circuit, inputs, weights, 40_000, 1) - exact).abs().max() < 0.03


def test_shot_probabilities_are_frequencies() -> None:
    circuit = qnn(3, 1, Readout("probs"))
    inputs, weights = random_problem(circuit, rows=4)
    estimate = shot_run(circuit, inputs, weights, 50, seed=3).detach()
    torch.testing.assert_close(estimate.sum(1), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(estimate * 50, (estimate * 50).round())


def test_gradient_under_shots_is_the_exact_gradient() -> None:
    circuit = qnn(3, 2)
    inputs, weights = random_problem(circuit, rows=5)
    sampled = shot_run(circuit, inputs, weights, 200, seed=1)
    exact = run(circuit, inputs, weights)
    assert not torch.allclose(sampled, exact)
    for noisy, clean in zip(gradients(sampled, inputs, weights), gradients(exact, inputs, weights), strict=True):
        torch.testing.assert_close(noisy, clean)


def test_shots_without_seed_still_sample() -> None:
    circuit = qnn(2, 1)
    inputs, weights = random_problem(circuit, rows=3)
    out = shot_run(circuit, inputs, weights, 10, seed=None)
    assert out.shape == (3, 2)
    torch.testing.assert_close(out * 10, (out * 10).round())  # <Z> from 10 shots is a multiple of 1/5


# --- options, shapes, registration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"dtype": "float32"}, "dtype"),
        ({"dtype": torch.complex64}, "dtype"),
        ({"fuse_threshold": -1}, "fuse_threshold"),
        ({"fuse_threshold": float("nan")}, "fuse_threshold"),
        ({"fuse_threshold": "8"}, "fuse_threshold"),
        ({"shots": 100}, "shots"),
    ],
)
def test_bad_options_give_one_line_error(options: dict, named: str) -> None:
    with pytest.raises(OptionsError) as error:
        emulator_backend(**options)
    message = str(error.value)
    assert "\n" not in message and f"option '{named}'" in message
    assert "its options are: dtype, fuse_threshold" in message


@pytest.mark.parametrize("shots", [0, -5, 2.5, True])
def test_bad_shots_are_refused(shots) -> None:
    circuit = qnn(2, 1)
    inputs, weights = random_problem(circuit, rows=2)
    with pytest.raises(QwthnError, match="shots"):
        shot_run(circuit, inputs, weights, shots, seed=0)


@pytest.mark.parametrize(
    ("inputs_shape", "weights_shape"), [((3,), (6,)), ((3, 1), (6,)), ((3, 2), (5,)), ((3, 2), (2, 6))]
)
def test_bad_shapes_are_refused(inputs_shape: tuple[int, ...], weights_shape: tuple[int, ...]) -> None:
    circuit = qnn(2, 1)
    with pytest.raises(QwthnError, match="must be"):
        run(circuit, torch.zeros(inputs_shape, dtype=torch.float64), torch.zeros(weights_shape, dtype=torch.float64))


def test_capabilities_refuse_too_many_qubits() -> None:
    backend = emulator_backend()
    too_big = Circuit(backend.capabilities.max_qubits + 1, (), n_inputs=0, n_weights=0)
    with pytest.raises(CapabilityError, match="at most"):
        check_circuit(backend, too_big, shots=None)


def test_gates_outside_its_declared_set_are_refused_not_approximated() -> None:
    backend = emulator_backend()
    assert "CRZ" in GATES and "CRZ" not in backend.capabilities.native_gates
    circuit = Circuit(2, (Gate("CRZ", (0, 1), Angle.input(0)),), n_inputs=1, n_weights=0)
    with pytest.raises(CapabilityError, match=r"does not execute gates \['CRZ'\]"):
        check_circuit(backend, circuit, shots=None)


def test_registered_through_the_entry_point(fresh_registry) -> None:
    backend = get_backend("emulator", dtype="complex128")
    assert type(backend) is EmulatorBackend and backend.options.dtype == "complex128"
    entry = next(entry for entry in list_backends() if entry.name == "emulator")
    assert entry.distribution == "qwthn-emulator" and entry.plugin.name == "emulator"


# --- CUDA --------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    circuit = qnn(6, 2)
    inputs, weights = random_problem(circuit, rows=300)
    backend = emulator_backend(dtype="complex128")
    compiled = backend.compile(circuit)
    cpu = backend.evaluate(compiled, inputs, weights)
    cuda_inputs = inputs.detach().cuda().requires_grad_()
    cuda_weights = weights.detach().cuda().requires_grad_()
    gpu = backend.evaluate(compiled, cuda_inputs, cuda_weights)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu)
    for ours, theirs in zip(gradients(gpu, cuda_inputs, cuda_weights), gradients(cpu, inputs, weights), strict=True):
        torch.testing.assert_close(ours.cpu(), theirs)
    first = backend.evaluate(compiled, cuda_inputs, cuda_weights, shots=100, seed=4)
    assert torch.equal(first, backend.evaluate(compiled, cuda_inputs, cuda_weights, shots=100, seed=4))
