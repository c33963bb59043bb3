"""`QiskitBackend`: qwthn circuits on Qiskit Aer, or on any Qiskit `BackendV2` a user hands in.

It only translates and executes; the core checks, chunks, seeds, retries, reorders (Qiskit's
probabilities are little-endian) and differentiates (parameter-shift). Per circuit, `compile`
translates and transpiles once (cached per backend instance); per chunk, `evaluate`/`submit`
binds every row in one primitive call (see `executors`).
"""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar

import numpy as np
import torch

from qwthn.contract.backend import BackendJob, Capabilities, CompletedJob, QuantumBackend
from qwthn.contract.circuit import Circuit
from qwthn_qiskit.compile import CompiledCircuit, compile_circuit
from qwthn_qiskit.devices import (
    coupling_pairs,
    has_error_data,
    is_remote,
    max_shots,
    translatable_gates,
)
from qwthn_qiskit.executors import AerExecutor, DeviceExecutor
from qwthn_qiskit.options import QiskitOptions
from qwthn_qiskit.translate import NATIVE_GATES

CACHE_SIZE = 64
"""Compiled circuits kept per backend instance (runtimes built on one instance share them)."""


class QiskitBackend(QuantumBackend):
    """Aer state vector / density matrix (exact or sampled), or sampling on a user's BackendV2 (see README)."""

    name: ClassVar[str] = "qiskit"
    description: ClassVar[str] = (
        "Qiskit Aer (exact state vector, density matrix with a NoiseModel, shots) or any Qiskit BackendV2"
    )
    Options = QiskitOptions

    def __init__(self, options: QiskitOptions | None = None) -> None:
        super().__init__(options)
        self._compiled: dict[Circuit, CompiledCircuit] = {}

    # -- where it runs -------------------------------------------------------------------------------

    @property
    def device(self):
        """The user's BackendV2, or None for the built-in simulator."""
        return self.options.backend

    @cached_property
    def simulator(self):
        """The AerSimulator that runs circuits (None when a non-Aer device does)."""
        if not self.options.aer:
            return None
        if self.device is not None:
            return self.device
        from qiskit_aer import AerSimulator

        settings = {"method": self.options.simulation_method}
        if self.options.noise_model is not None:
            settings["noise_model"] = self.options.noise_model
        if self.options.max_parallel_threads:
            settings["max_parallel_threads"] = self.options.max_parallel_threads
        return AerSimulator(**settings)

    @property
    def noise_model(self):
        """The noise model Aer applies (the built-in one's option, or the user's AerSimulator's)."""
        if self.device is None:
            return self.options.noise_model
        return getattr(self.device.options, "noise_model", None) if self.options.aer else None

    @cached_property
    def _aer_basis(self) -> frozenset[str] | None:
        return None if self.simulator is None else frozenset(self.simulator.configuration().basis_gates)

    @cached_property
    def _executor(self) -> AerExecutor | DeviceExecutor:
        if self.simulator is not None:
            return AerExecutor(self.simulator, self.noise_model)
        return DeviceExecutor(self.device)

    # -- what it can do ------------------------------------------------------------------------------

    def _cap(self, qubits: int) -> int:
        return min(qubits, self.options.max_qubits) if self.options.max_qubits else qubits

    @cached_property
    def capabilities(self) -> Capabilities:
        options = self.options
        if self.device is None:
            noisy = options.noise_model is not None and not options.noise_model.is_ideal()
            return Capabilities(
                max_qubits=self._cap(self.simulator.num_qubits),
                native_gates=NATIVE_GATES,
                gradient="parameter-shift",
                supports_shots=True,
                exact=not (noisy and options.simulation_method == "statevector"),
                supports_noise=noisy,
                qubit_ordering="little",
                max_batch=options.max_batch,
            )
        target = self.device.target
        qubits = self._cap(target.num_qubits or self.device.num_qubits)
        pairs = coupling_pairs(target)
        if pairs is not None:  # routes=True: wires are not the device's qubits, this only informs
            pairs = frozenset(pair for pair in pairs if max(pair) < qubits)
        limits = [limit for limit in (options.max_batch, self.device.max_circuits) if limit]
        aer = options.aer
        noisy = self.noise_model is not None and not self.noise_model.is_ideal() if aer else has_error_data(target)
        exact = aer and not (noisy and getattr(self.device.options, "method", "automatic") == "statevector")
        return Capabilities(
            max_qubits=qubits,
            native_gates=translatable_gates(target),
            gradient="parameter-shift",
            supports_shots=True,
            exact=exact,
            supports_noise=noisy,
            qubit_ordering="little",
            coupling_map=pairs,
            routes=True,
            max_batch=min(limits) if limits else None,
            max_shots=None if aer else max_shots(self.device),
            remote=is_remote(self.device),
        )

    # -- translate and execute -----------------------------------------------------------------------

    def compile(self, circuit: Circuit) -> CompiledCircuit:
        compiled = self._compiled.get(circuit)
        if compiled is None:
            compiled = compile_circuit(
                circuit, backend=self.device, noise_model=self.options.noise_model if self.device is None else None,
                aer_basis=self._aer_basis, options=self.options,
            )  # fmt: skip
            if len(self._compiled) >= CACHE_SIZE:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[circuit] = compiled
        return compiled

    @staticmethod
    def _values(compiled: CompiledCircuit, inputs: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
        as_numpy = lambda tensor: tensor.detach().to("cpu", torch.float64).numpy()  # noqa: E731
        return compiled.values(as_numpy(inputs), as_numpy(weights))

    def _empty(self, compiled: CompiledCircuit, inputs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(0, compiled.circuit.n_outputs, dtype=torch.float64, device=inputs.device)

    def evaluate(
        self,
        compiled: CompiledCircuit,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        if isinstance(self._executor, DeviceExecutor):
            return self.submit(compiled, inputs, weights, shots=shots, seed=seed).result()
        if inputs.shape[0] == 0:
            return self._empty(compiled, inputs)
        values = self._values(compiled, inputs, weights)
        if shots is None:
            out = self._executor.exact(compiled, values)
        else:
            out = self._executor.sample(compiled, values, shots, seed)
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float64)).to(inputs.device)

    def submit(
        self,
        compiled: CompiledCircuit,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> BackendJob:
        """On a device: the primitive job, collected later (so chunks queue together); on Aer: done now."""
        if not isinstance(self._executor, DeviceExecutor) or inputs.shape[0] == 0:
            return CompletedJob(self.evaluate(compiled, inputs, weights, shots=shots, seed=seed))
        if shots is None:  # the core refuses this before compiling (exact=False); kept for direct callers
            raise ValueError(f"backend '{self.name}' on {self.device.name} only samples; pass shots")
        return self._executor.submit(compiled, self._values(compiled, inputs, weights), shots, seed)
