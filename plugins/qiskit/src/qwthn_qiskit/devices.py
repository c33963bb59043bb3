"""Which Qiskit machine runs the circuits, and what its `Target` says it can do.

The `backend` option is a `BackendV2` object (a provider's device, a fake device, an
`AerSimulator`) or one of these names, so a YAML config or the command line can pick one:

- `"FakeManilaV2"` (any class of `qiskit_ibm_runtime.fake_provider`): a noisy fake IBM device;
- `"generic:N"`: `GenericBackendV2` with N qubits on a line, without noise (a test device);
- `"aer:SPEC"`: `AerSimulator.from_backend(SPEC)`, e.g. `"aer:FakeManilaV2"`: the device's target
  and the noise model it samples with, on a local Aer simulator that can also compute exact noisy values.
"""

from __future__ import annotations

from qiskit.providers import BackendV2
from qiskit.transpiler import Target

LOCAL_MODULES = ("qiskit.", "qiskit_aer", "qiskit_ibm_runtime.fake_provider")
"""Backends from these modules simulate on this machine; any other `BackendV2` is treated as remote."""


def resolve_backend(spec: str) -> BackendV2:
    """The `BackendV2` a backend name stands for; ValueError says which names exist."""
    if spec.startswith("aer:"):
        from qiskit_aer import AerSimulator

        device = resolve_backend(spec[4:])
        return AerSimulator.from_backend(device, noise_model=device_noise_model(device))
    if spec.startswith("generic:"):
        count = spec.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"'{spec}': write generic:N with N >= 1 qubits, e.g. 'generic:5'")
        from qiskit.providers.fake_provider import GenericBackendV2
        from qiskit.transpiler import CouplingMap

        n = int(count)
        coupling = CouplingMap.from_line(n) if n > 1 else None
        return GenericBackendV2(n, coupling_map=coupling, seed=1, noise_info=False)
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError:  # pragma: no cover - depends on the environment
        raise ValueError(
            f"'{spec}' is not 'generic:N' or 'aer:...', and fake devices need qiskit-ibm-runtime "
            "(pip install 'qwthn-qiskit[ibm]'); or pass a BackendV2 object"
        ) from None
    cls = getattr(fake_provider, spec, None)
    if not (isinstance(cls, type) and issubclass(cls, BackendV2)):
        raise ValueError(
            f"unknown backend name '{spec}': use a BackendV2 object, a class of qiskit_ibm_runtime.fake_provider "
            "such as 'FakeManilaV2', 'generic:N' (noiseless line of N qubits) or 'aer:<name>'"
        )
    return cls()


def device_noise_model(device: BackendV2):
    """The noise model a device samples with: a fake IBM device's own (its readout errors are asymmetric,
    unlike `NoiseModel.from_backend`'s), else the one `NoiseModel.from_backend` derives from the target,
    or None when the target has no error data."""
    from qiskit_aer.noise import NoiseModel

    if not has_error_data(device.target):
        return None
    own = getattr(device, "_get_noise_model_from_backend_v2", None)  # qiskit_ibm_runtime FakeBackendV2
    if callable(own):
        return own()
    return NoiseModel.from_backend(device)


def is_aer(backend: BackendV2 | None) -> bool:
    """Aer runs parameter binds and save instructions, so it can evaluate exactly and in one run."""
    if backend is None:
        return True
    from qiskit_aer import AerSimulator

    return isinstance(backend, AerSimulator)


def is_remote(backend: BackendV2 | None) -> bool:
    """Jobs leave this machine unless the backend is one of Qiskit's local simulators or fake devices."""
    return backend is not None and not type(backend).__module__.startswith(LOCAL_MODULES)


def is_ibm_runtime(backend: BackendV2) -> bool:
    """IBM's devices take jobs only through qiskit-ibm-runtime's own primitives (no backend.run)."""
    module = type(backend).__module__
    return module.startswith("qiskit_ibm_runtime") and not module.startswith("qiskit_ibm_runtime.fake_provider")


def coupling_pairs(target: Target) -> frozenset[tuple[int, int]] | None:
    """The target's two-qubit couplers, or None when it has none (all-to-all simulators)."""
    coupling = target.build_coupling_map()
    if coupling is None:
        return None
    return frozenset((int(a), int(b)) for a, b in coupling.get_edges())


def has_error_data(target: Target) -> bool:
    """Does the target carry gate or readout errors (it then models a noisy device)?"""
    for name in target.operation_names:
        for properties in (target[name] or {}).values():
            if properties is not None and properties.error:
                return True
    return False


def max_shots(backend: BackendV2) -> int | None:
    """The device's shot limit where its configuration states one (IBM devices and fakes do)."""
    try:
        value = backend.configuration().max_shots
    except Exception:  # BackendV2 has no configuration() in general
        return None
    return int(value) if isinstance(value, int) and value > 0 else None


def translatable_gates(target: Target) -> frozenset[str]:
    """The gate-table gates the transpiler can rewrite into this target's basis (all of them for usual devices)."""
    from qiskit.circuit import QuantumCircuit
    from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

    from qwthn.contract.gates import GATES
    from qwthn_qiskit.translate import GATE_METHODS, NATIVE_GATES

    pairs = coupling_pairs(target)
    wires = sorted(pairs)[0] if pairs else ((0, 1) if (target.num_qubits or 2) >= 2 else (0,))
    manager = generate_preset_pass_manager(optimization_level=0, target=target, initial_layout=list(wires))

    def works(names: list[str]) -> bool:
        qc = QuantumCircuit(len(wires))
        for name in names:
            spec = GATES[name]
            if spec.n_wires > len(wires):
                return False
            angles = (0.3,) if spec.parametrised else ()
            getattr(qc, GATE_METHODS[name])(*angles, *range(spec.n_wires))
        try:
            manager.run(qc)
        except Exception:  # no path in the equivalence library to this target's basis
            return False
        return True

    gates = sorted(NATIVE_GATES)
    if works(gates):
        return frozenset(gates)
    return frozenset(name for name in gates if works([name]))
