"""Running one chunk of rows as ONE Qiskit call.

`AerExecutor` (the built-in simulator or a user's `AerSimulator`):
- exact <Z_w>: one EstimatorV2 PUB (circuit, n observables, values [rows, 1, P]); the values'
  shape [rows, 1] broadcasts against the observables' (n,) to [rows, n];
- exact probabilities: one `AerSimulator.run(circuit + save_probabilities, parameter_binds=...)`
  carrying all rows (Aer's estimator would need 2^n projector observables of 2^n terms each);
- shots: one Aer SamplerV2 PUB (circuit + measurements, values [rows, P]) seeded by `seed`.
`DeviceExecutor` (any other `BackendV2`): one sampler PUB per chunk, returned as a job
(`BackendSamplerV2`, or qiskit-ibm-runtime's SamplerV2 for IBM devices, which take no backend.run).

Circuits without free parameters cannot carry rows through Aer's binds: they run once
(exact, then repeated per row) or with rows x shots samples split into rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.providers import BackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel
from qiskit_aer.primitives import EstimatorV2 as AerEstimator
from qiskit_aer.primitives import SamplerV2 as AerSampler

from qwthn_qiskit.compile import CompiledCircuit
from qwthn_qiskit.devices import is_ibm_runtime
from qwthn_qiskit.jobs import PrimitiveJobHandle
from qwthn_qiskit.noise import apply_readout, readout_matrices
from qwthn_qiskit.readout import from_bits, unpack_bits


def _sampled(result: Any, compiled: CompiledCircuit, rows: int) -> np.ndarray:
    """A sampler's PrimitiveResult (one PUB, register 'meas') -> [rows, n_outputs] estimates."""
    bits = unpack_bits(result[0].data.meas.array, compiled.circuit.n_qubits)
    bits = bits.reshape(rows, -1, bits.shape[-1])  # a parameter-free PUB carries rows x shots samples
    readout = compiled.circuit.readout
    return from_bits(bits, readout.kind, readout.wires)


def _sampler_pub(compiled: CompiledCircuit, values: np.ndarray, shots: int) -> tuple[tuple, int]:
    if values.shape[1]:
        return (compiled.measured, values), shots
    return (compiled.measured,), shots * values.shape[0]


class AerExecutor:
    """Exact and sampled evaluation on an `AerSimulator`, each a single Aer run per chunk."""

    def __init__(self, simulator: AerSimulator, noise_model: NoiseModel | None) -> None:
        self.simulator, self.noise_model = simulator, noise_model
        self.estimator = AerEstimator.from_backend(simulator)

    def exact(self, compiled: CompiledCircuit, values: np.ndarray) -> np.ndarray:
        readout = compiled.circuit.readout
        if readout.kind == "expval_z":
            exact = self._expectation_values(compiled, values)
        else:
            exact = self._probabilities(compiled, values)
        matrices = readout_matrices(self.noise_model, compiled.positions)
        return apply_readout(exact, readout.kind, readout.wires, matrices)

    def _expectation_values(self, compiled: CompiledCircuit, values: np.ndarray) -> np.ndarray:
        rows, observables = values.shape[0], list(compiled.observables)
        if not values.shape[1]:
            evs = self.estimator.run([(compiled.estimated, observables)]).result()[0].data.evs
            return np.broadcast_to(np.asarray(evs, dtype=np.float64), (rows, len(observables))).copy()
        pub = (compiled.estimated, observables, values[:, None, :])
        return np.asarray(self.estimator.run([pub]).result()[0].data.evs, dtype=np.float64)

    def _probabilities(self, compiled: CompiledCircuit, values: np.ndarray) -> np.ndarray:
        circuit, rows = compiled.probabilities, values.shape[0]
        if not values.shape[1]:
            result = self.simulator.run(circuit).result()
            return np.tile(np.asarray(result.data(0)["probabilities"], dtype=np.float64), (rows, 1))
        binds = [{parameter: values[:, j].tolist() for j, parameter in enumerate(circuit.parameters)}]
        result = self.simulator.run(circuit, parameter_binds=binds).result()
        if not result.success:
            raise RuntimeError(f"Aer run failed: {result.status}")
        return np.stack([np.asarray(result.data(i)["probabilities"], dtype=np.float64) for i in range(rows)])

    def sample(self, compiled: CompiledCircuit, values: np.ndarray, shots: int, seed: int | None) -> np.ndarray:
        sampler = AerSampler.from_backend(self.simulator, seed=seed)
        pub, pub_shots = _sampler_pub(compiled, values, shots)
        result = sampler.run([pub], shots=pub_shots).result()
        return _sampled(result, compiled, values.shape[0])


class DeviceExecutor:
    """Sampling on any `BackendV2`: one primitive job per chunk, collected later."""

    def __init__(self, backend: BackendV2) -> None:
        self.backend = backend

    def _sampler(self, shots: int, seed: int | None):
        if is_ibm_runtime(self.backend):  # pragma: no cover - needs IBM Quantum credentials and network
            from qiskit_ibm_runtime import SamplerV2

            sampler = SamplerV2(mode=self.backend)
            sampler.options.default_shots = shots
            return sampler
        from qiskit.primitives import BackendSamplerV2

        return BackendSamplerV2(backend=self.backend, options={"default_shots": shots, "seed_simulator": seed})

    def submit(self, compiled: CompiledCircuit, values: np.ndarray, shots: int, seed: int | None) -> PrimitiveJobHandle:
        rows = values.shape[0]
        pub, pub_shots = _sampler_pub(compiled, values, shots)
        job = self._sampler(pub_shots, seed).run([pub], shots=pub_shots)
        name = getattr(self.backend, "name", type(self.backend).__name__)
        return PrimitiveJobHandle(
            job, lambda result: _sampled(result, compiled, rows), what=f"{rows} rows x {shots} shots on '{name}'"
        )
