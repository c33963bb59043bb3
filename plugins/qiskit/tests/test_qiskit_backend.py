"""The `qiskit` backend: options, capabilities per configuration, one SDK call per batch, compile cache,
layouts after routing, the Aer controlled-rotation workaround, and seeded shots."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer.noise import NoiseModel, depolarizing_error
from qiskit_aer.primitives import EstimatorV2

from qwthn import CapabilityError, OptionsError, get_backend, list_backends
from qwthn.contract.circuit import Angle, Circuit, Gate, Readout
from qwthn.methods.qwthn.ansatz import build_qnn_circuit
from qwthn.runtime import QuantumLayer, Runtime
from qwthn.testing import reference
from qwthn_qiskit.translate import aer_safe

# GenericBackendV2 without noise data warns when it builds its (ideal) simulator
pytestmark = pytest.mark.filterwarnings("ignore:Qiskit backend .* has no QubitProperties:UserWarning")


def emulated(circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The reference in core order (big-endian probabilities)."""
    return torch.from_numpy(reference.evaluate(circuit, inputs.numpy(), weights.numpy()))


def through_layer(options: dict, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor, **runtime):
    layer = QuantumLayer(circuit, Runtime(get_backend("qiskit", **options), **runtime)).double()
    with torch.no_grad():
        layer.weights.copy_(weights)
        return layer(inputs)


# --- registration and options ------------------------------------------------------------------


def test_registered_through_its_entry_point():
    entry = next(entry for entry in list_backends() if entry.name == "qiskit")
    assert entry.distribution == "qwthn-qiskit"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"optimization_level": 4}, "optimization_level"),
        ({"method": "mps"}, "method"),
        ({"backend": "FakeNowhereV9"}, "backend"),
        ({"backend": "generic:0"}, "backend"),
        ({"noise_model": 0.1}, "noise_model"),
        ({"max_batch": 0}, "max_batch"),
        ({"shots": 100}, "shots"),
        ({"backend": "generic:3", "noise_model": NoiseModel()}, "noise_model"),
        ({"backend": "generic:3", "method": "density_matrix"}, "method"),
    ],
)
def test_bad_option_is_refused_naming_it(options, named):
    with pytest.raises(OptionsError, match=named):
        get_backend("qiskit", **options)


def test_options_take_objects_and_names():
    device = GenericBackendV2(num_qubits=3, seed=1)
    assert get_backend("qiskit", backend=device).options.backend is device
    model = NoiseModel()
    assert get_backend("qiskit", noise_model=model).options.noise_model is model
    assert get_backend("qiskit", backend="FakeManilaV2").options.backend.num_qubits == 5
    assert isinstance(get_backend("qiskit", noise_model="FakeManilaV2").options.noise_model, NoiseModel)


# --- capabilities -------------------------------------------------------------------------------


def test_capabilities_of_the_built_in_simulator():
    ideal = get_backend("qiskit").capabilities
    assert ideal.exact and ideal.supports_shots and not ideal.supports_noise and ideal.coupling_map is None
    assert ideal.qubit_ordering == "little" and ideal.gradient == "parameter-shift" and ideal.max_qubits >= 20
    assert ideal.native_gates == {"RX", "RY", "RZ", "H", "X", "CZ", "CNOT", "CRX", "CRY", "CRZ"}
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.05, 1), ["ry", "rz"])
    noisy = get_backend("qiskit", noise_model=model).capabilities
    assert noisy.exact and noisy.supports_noise  # density matrix: exact noisy values
    trajectories = get_backend("qiskit", noise_model=model, method="statevector").capabilities
    assert not trajectories.exact and trajectories.supports_shots
    assert get_backend("qiskit", method="density_matrix", max_qubits=6, max_batch=9).capabilities.max_qubits == 6


def test_capabilities_of_a_fake_device_come_from_its_target():
    backend = get_backend("qiskit", backend="FakeManilaV2")
    caps, target = backend.capabilities, backend.device.target
    assert caps.max_qubits == 5 and not caps.exact and caps.supports_shots and caps.supports_noise
    assert caps.coupling_map == {tuple(edge) for edge in target.build_coupling_map().get_edges()}
    assert caps.routes and not caps.remote and caps.max_shots == 100000
    assert caps.native_gates == {"RX", "RY", "RZ", "H", "X", "CZ", "CNOT", "CRX", "CRY", "CRZ"}
    with pytest.raises(CapabilityError, match="only samples"):
        Runtime(backend).prepare(build_qnn_circuit(2, 1))


def test_max_batch_follows_the_devices_max_circuits():
    class Limited(GenericBackendV2):
        @property
        def max_circuits(self):
            return 7

    device = Limited(num_qubits=3, seed=1, noise_info=False)
    assert get_backend("qiskit", backend=device).capabilities.max_batch == 7
    assert get_backend("qiskit", backend=device, max_batch=5).capabilities.max_batch == 5
    assert get_backend("qiskit", backend=device, max_batch=50).capabilities.max_batch == 7
    assert not get_backend("qiskit", backend=device).capabilities.supports_noise  # no error data in its target
    assert get_backend("qiskit", backend=device).capabilities.remote  # not one of Qiskit's local classes


# --- one call per batch, compiled once -----------------------------------------------------------


def test_a_batch_is_one_estimator_pub_and_one_aer_run(monkeypatch):
    backend = get_backend("qiskit")
    circuit = build_qnn_circuit(3, 2, reupload=True)
    probs = build_qnn_circuit(3, 2, reupload=True, readout="probs")
    inputs, weights = torch.rand(40, 3, dtype=torch.float64), torch.rand(40, circuit.n_weights, dtype=torch.float64)
    estimator, simulator = backend._executor.estimator, backend.simulator
    calls = []
    original_estimate, original_run = estimator.run, simulator.run
    monkeypatch.setattr(
        estimator, "run", lambda pubs, **kw: calls.append(("estimator", pubs)) or original_estimate(pubs, **kw)
    )
    monkeypatch.setattr(
        simulator, "run", lambda circuits, **kw: calls.append(("run", kw)) or original_run(circuits, **kw)
    )
    out = backend.evaluate(backend.compile(circuit), inputs, weights)
    assert [name for name, _ in calls] == ["estimator", "run"]  # Aer's estimator runs the simulator once
    (_, pubs) = calls[0]
    assert len(pubs) == 1 and pubs[0][2].shape == (40, 1, circuit.n_inputs + circuit.n_weights)
    calls.clear()
    backend.evaluate(backend.compile(probs), inputs, weights)
    assert [name for name, _ in calls] == ["run"] and len(next(iter(calls[0][1]["parameter_binds"][0].values()))) == 40
    torch.testing.assert_close(out, emulated(circuit, inputs, weights), atol=1e-9, rtol=0)


def test_compile_is_cached_per_circuit(monkeypatch):
    import qwthn_qiskit.backend as module

    backend = get_backend("qiskit", backend="aer:generic:5")
    compiled = []
    original = module.compile_circuit
    monkeypatch.setattr(module, "compile_circuit", lambda *a, **k: compiled.append(1) or original(*a, **k))
    circuit = build_qnn_circuit(3, 2)
    first = backend.compile(circuit)
    assert backend.compile(build_qnn_circuit(3, 2)) is first and len(compiled) == 1
    assert first.isa.num_parameters == circuit.n_inputs + circuit.n_weights  # still symbolic after transpiling


# --- layouts after routing ------------------------------------------------------------------------


@pytest.mark.parametrize("readout", ["expval_z", "probs"])
def test_routed_circuit_maps_wires_back(readout):
    """CNOTs between every pair of 5 wires cannot fit a 5-qubit line: SWAPs move the wires, and read-outs follow."""
    gates = [Gate("RY", (w,), Angle.input(w)) for w in range(5)]
    gates += [Gate("CNOT", (a, b)) for a in range(5) for b in range(a + 1, 5)]
    gates += [Gate("CRX", (4, 1), Angle.weight(0)), Gate("RX", (2,), Angle.weight(1))]
    wires = (4, 0, 2) if readout == "expval_z" else ()
    circuit = Circuit(5, tuple(gates), 5, 2, Readout(readout, wires))
    generator = torch.Generator().manual_seed(5)
    inputs = torch.rand(6, 5, generator=generator, dtype=torch.float64) * 3
    weights = torch.tensor([0.7, -1.3], dtype=torch.float64)
    compiled = get_backend("qiskit", backend="aer:generic:5").compile(circuit)
    assert list(compiled.positions) != compiled.isa.layout.initial_index_layout()[:5]  # routing moved wires
    out = through_layer({"backend": "aer:generic:5"}, circuit, inputs, weights)
    torch.testing.assert_close(out, emulated(circuit, inputs, weights), atol=1e-6, rtol=0)
    sampled = through_layer({"backend": "generic:5"}, circuit, inputs, weights, shots=4000, seed=3)
    exact = emulated(circuit, inputs, weights)
    sigma = torch.sqrt((exact * (1 - exact) if readout == "probs" else 1 - exact**2).clamp(min=0) / 4000)
    assert torch.all((sampled - exact).abs() <= 5 * sigma + 2 / 4000 + 1e-9)


# --- the Aer workaround ---------------------------------------------------------------------------


def test_aer_safe_fixes_aer_dropping_bound_controlled_rotation_angles():
    theta = Parameter("t")
    qc = QuantumCircuit(2)
    qc.x(0)
    qc.cry(theta, 0, 1)
    observable = SparsePauliOp("ZI")
    exact = Statevector(qc.assign_parameters([0.9])).expectation_value(observable).real
    safe = aer_safe(qc, frozenset({"cx", "ry", "x", "u", "u1", "u3"}))
    assert "cry" not in safe.count_ops()
    fixed = EstimatorV2().run([(safe, observable, [[0.9]])]).result()[0].data.evs[0]
    assert abs(fixed - exact) < 1e-9 and abs(exact - np.cos(0.9)) < 1e-9
    # If this starts failing, Aer fixed the bug (issue #2323): aer_safe is then merely harmless.
    broken = EstimatorV2().run([(qc, observable, [[0.9]])]).result()[0].data.evs[0]
    assert abs(broken - exact) > 1e-2


# --- shots ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"backend": "generic:4"}], ids=["aer", "device"])
def test_shots_are_seeded_and_unbiased(options):
    circuit = build_qnn_circuit(3, 1, readout="probs")
    generator = torch.Generator().manual_seed(11)
    inputs = torch.rand(5, 3, generator=generator, dtype=torch.float64) * 3
    weights = torch.rand(circuit.n_weights, generator=generator, dtype=torch.float64)

    def run(seed):
        return through_layer(options, circuit, inputs, weights, shots=2000, seed=seed)

    first, again, other = run(1), run(1), run(2)
    assert torch.equal(first, again) and not torch.equal(first, other)
    exact = emulated(circuit, inputs, weights)
    bound = 5 * torch.sqrt(exact * (1 - exact) / 2000) + 2 / 2000
    assert torch.all((first - exact).abs() <= bound)
    assert torch.allclose(first.sum(dim=1), torch.ones(5, dtype=torch.float64))


def test_shots_rows_are_independent_samples():
    """Identical rows get their own samples (not one draw copied), also for circuits with no parameters."""
    backend = get_backend("qiskit")
    for circuit, n_inputs in (
        (Circuit(2, (Gate("H", (0,)), Gate("H", (1,))), 0, 0, Readout("probs")), 0),
        (Circuit(2, (Gate("RY", (0,), Angle.input(0)), Gate("H", (1,))), 1, 0, Readout("probs")), 1),
    ):
        inputs = torch.full((6, n_inputs), 1.5, dtype=torch.float64)
        out = backend.evaluate(backend.compile(circuit), inputs, torch.zeros(0), shots=200, seed=4)
        assert out.shape == (6, 4) and len({tuple(row.tolist()) for row in out}) > 1
