"""The execution runtime: what every backend needs, written once.

One `Runtime` is built per injected model and shared by all its adapted layers:
one backend instance; capability checks before any compute; a compile cache
keyed by the (frozen) circuit, so identical layers compile once; chunking to the
backend's `max_batch`, with every chunk submitted before any is collected so a
remote backend queues them together; bounded retries with exponential backoff
on `TransientBackendError` and timeouts (a retried chunk keeps its seed, so the
result equals a fault-free run's); shot seeds spawned per layer from one root
`SeedSequence` (reproducible, and uncorrelated across layers and calls); a
`Tracker` of what was sent; and dry runs, which count all of it without sending anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qwthn.contract.backend import BackendJob, Capabilities, QuantumBackend
from qwthn.contract.circuit import Circuit
from qwthn.errors import BackendExecutionError, CapabilityError, TransientBackendError
from qwthn.runtime.config import RuntimeConfig
from qwthn.runtime.dry_run import stand_in_job
from qwthn.runtime.lowering import Lowering, lower
from qwthn.runtime.tracker import Tracker

RETRYABLE = (TransientBackendError, TimeoutError)


def check_circuit(backend: QuantumBackend, circuit: Circuit, shots: int | None) -> None:
    """Refuse, before compiling, a circuit or shot setting this backend instance cannot run."""
    name, caps = backend.name, backend.capabilities
    if circuit.n_qubits > caps.max_qubits:
        raise CapabilityError(
            f"backend '{name}' runs at most {caps.max_qubits} qubits, the circuit has {circuit.n_qubits}; "
            "lower n_qubits or pick another backend"
        )
    undeclared = circuit.gate_names - caps.native_gates
    if undeclared:
        raise CapabilityError(
            f"backend '{name}' does not execute gates {sorted(undeclared)} (it declares "
            f"{sorted(caps.native_gates)}); pick a backend that does"
        )
    if caps.coupling_map is not None and not caps.routes:
        for pair in sorted(circuit.two_qubit_pairs):
            if pair not in caps.coupling_map and pair[::-1] not in caps.coupling_map:
                raise CapabilityError(
                    f"backend '{name}' has no coupler between wires {pair[0]} and {pair[1]}; "
                    "use an entangler that follows its coupling map (e.g. 'chain') or a backend that routes"
                )
    if shots is not None and not caps.supports_shots:
        raise CapabilityError(f"backend '{name}' has no finite-shot mode; set shots to null")
    if shots is None and not caps.exact:
        raise CapabilityError(f"backend '{name}' only samples; set shots (e.g. 1000)")
    if shots is not None and caps.max_shots is not None and shots > caps.max_shots:
        raise CapabilityError(f"backend '{name}' takes at most {caps.max_shots} shots per row, got {shots}")


def little_to_big_endian(n_qubits: int) -> torch.Tensor:
    """Column permutation taking little-endian basis indices to big-endian ones."""
    indices = torch.arange(2**n_qubits)
    reversed_bits = torch.zeros_like(indices)
    for bit in range(n_qubits):
        reversed_bits |= ((indices >> bit) & 1) << (n_qubits - 1 - bit)
    return reversed_bits


@dataclass(frozen=True, eq=False)
class PreparedCircuit:
    """A checked, compiled circuit and how to bring the backend's output to the core's big-endian order."""

    circuit: Circuit
    compiled: Any
    reorder: torch.Tensor | None
    """out_core = out_backend[:, reorder], or None when the orders agree."""


class SeedStream:
    """Independent shot seeds for one layer: one per backend call, then one per chunk of that call."""

    def __init__(self, sequence: np.random.SeedSequence | None) -> None:
        self._sequence = sequence

    def next_call(self, n_chunks: int) -> list[int | None]:
        if self._sequence is None:
            return [None] * n_chunks
        (call,) = self._sequence.spawn(1)
        return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in call.spawn(n_chunks)]


class NoCircuits(QuantumBackend):
    """The backend of a runtime for adapters that run no circuit (LoRA, dequantized adapters): refuses any."""

    name = "none"
    description = "no quantum backend: for adapters that run no circuit"

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_qubits=1, native_gates=frozenset(), gradient="autograd", supports_shots=False)

    def compile(self, circuit: Circuit) -> Any:
        raise CapabilityError("this runtime has no quantum backend; pass a RuntimeConfig naming one")

    def evaluate(self, compiled: Any, inputs: torch.Tensor, weights: torch.Tensor, *, shots=None, seed=None):
        raise CapabilityError("this runtime has no quantum backend; pass a RuntimeConfig naming one")


class Runtime:
    """Runs prepared circuits on one backend for every layer of a model."""

    def __init__(
        self,
        backend: QuantumBackend,
        *,
        shots: int | None = None,
        seed: int | None = None,
        device: str | None = None,
        timeout: float | None = None,
        retries: int = 3,
        retry_backoff: float = 0.5,
        tracker: Tracker | None = None,
        dry_run: bool = False,
        forward_only: bool = False,
    ) -> None:
        self.backend, self.shots, self.dry_run, self.forward_only = backend, shots, dry_run, forward_only
        self.timeout, self.retries, self.retry_backoff = timeout, retries, retry_backoff
        self.tracker = tracker if tracker is not None else Tracker()
        self.device = torch.device(device) if device is not None else None
        if self.device is not None and self.device.type not in self.capabilities.devices:
            raise CapabilityError(
                f"backend '{backend.name}' computes on {list(self.capabilities.devices)}, not '{device}'; "
                "change the runtime device"
            )
        self._root = np.random.SeedSequence(seed) if seed is not None else None
        self._prepared: dict[Circuit, PreparedCircuit] = {}
        self._lowered: dict[Circuit, Lowering] = {}

    @classmethod
    def from_config(
        cls, config: RuntimeConfig | None = None, *, tracker: Tracker | None = None,
        backend: QuantumBackend | None = None,
    ) -> Runtime:  # fmt: skip
        """A runtime for `config`; pass `backend` (built from the same config) to share one instance per run."""
        from qwthn.plugins import host

        config = config if config is not None else RuntimeConfig()
        if backend is None:
            backend = host.create_backend(config.backend, config.backend_options)
        return cls(
            backend, shots=config.shots, seed=config.seed, device=config.device, timeout=config.timeout,
            retries=config.retries, retry_backoff=config.retry_backoff, tracker=tracker, dry_run=config.dry_run,
            forward_only=config.forward_only,
        )  # fmt: skip

    @classmethod
    def classical(cls) -> Runtime:
        """For adapters that run no circuit: needs no backend plugin installed."""
        return cls(NoCircuits())

    @property
    def capabilities(self) -> Capabilities:
        return self.backend.capabilities

    def lower(self, circuit: Circuit) -> Lowering:
        """`circuit` with the gates this backend lacks rewritten into gates it has (identity when it has all)."""
        lowering = self._lowered.get(circuit)
        if lowering is None:
            lowering = self._lowered[circuit] = lower(circuit, self.capabilities.native_gates)
        return lowering

    def prepare(self, circuit: Circuit) -> PreparedCircuit:
        """Check and compile `circuit`, once per distinct circuit."""
        prepared = self._prepared.get(circuit)
        if prepared is None:
            check_circuit(self.backend, circuit, self.shots)
            compiled = self.backend.compile(circuit)
            little = circuit.readout.kind == "probs" and self.capabilities.qubit_ordering == "little"
            reorder = little_to_big_endian(circuit.n_qubits) if little else None
            prepared = self._prepared[circuit] = PreparedCircuit(circuit, compiled, reorder)
            self.tracker.circuits += 1
        return prepared

    def seed_stream(self) -> SeedStream:
        """A new independent stream of shot seeds (one per layer)."""
        return SeedStream(self._root.spawn(1)[0] if self._root is not None else None)

    def _chunks(self, inputs: torch.Tensor, weights: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        rows = inputs.shape[0]
        size = self.capabilities.max_batch or max(rows, 1)
        chunks = []
        for start in range(0, max(rows, 1), size):
            chunk_weights = weights[start : start + size] if weights.dim() == 2 else weights
            chunks.append((inputs[start : start + size], chunk_weights))
        return chunks

    def execute(
        self, prepared: PreparedCircuit, inputs: torch.Tensor, weights: torch.Tensor, seeds: SeedStream
    ) -> torch.Tensor:
        """[rows, n_outputs] in the backend's own order, any number of rows, on the inputs' device."""
        home = inputs.device
        target = self.device or home
        if target.type not in self.capabilities.devices:
            target = torch.device(self.capabilities.devices[0])
        inputs, weights = inputs.to(target), weights.to(target)
        chunks = self._chunks(inputs, weights)
        chunk_seeds = seeds.next_call(len(chunks)) if self.shots is not None else [None] * len(chunks)
        start = time.perf_counter()
        jobs = [self._submit(prepared, chunk, seed) for chunk, seed in zip(chunks, chunk_seeds, strict=True)]
        results = [
            self._collect(prepared, chunk, seed, job)
            for chunk, seed, job in zip(chunks, chunk_seeds, jobs, strict=True)
        ]
        self.tracker.seconds += time.perf_counter() - start
        output = results[0] if len(results) == 1 else torch.cat(results)
        return output.to(home)

    def _submit(
        self, prepared: PreparedCircuit, chunk: tuple[torch.Tensor, torch.Tensor], seed: int | None
    ) -> BackendJob | BaseException:
        if self.dry_run:
            return stand_in_job(prepared.circuit, prepared.reorder, *chunk)
        try:
            return self.backend.submit(prepared.compiled, *chunk, shots=self.shots, seed=seed)
        except RETRYABLE as error:
            return error

    def _collect(
        self,
        prepared: PreparedCircuit,
        chunk: tuple[torch.Tensor, torch.Tensor],
        seed: int | None,
        job: BackendJob | BaseException,
    ) -> torch.Tensor:
        attempt = 0
        while True:
            try:
                if isinstance(job, BaseException):
                    raise job
                value = job.result(timeout=self.timeout)
                break
            except RETRYABLE as error:
                attempt += 1
                if attempt > self.retries:
                    reason = " ".join(str(error).split()) or type(error).__name__
                    raise BackendExecutionError(
                        f"backend '{self.backend.name}' failed {attempt} times on one chunk of "
                        f"{chunk[0].shape[0]} rows (last: {reason}); check the backend or raise retries/timeout"
                    ) from None
                self.tracker.retries += 1
                time.sleep(self.retry_backoff * 2 ** (attempt - 1))
                job = self._submit(prepared, chunk, seed)
        expected = (chunk[0].shape[0], prepared.circuit.n_outputs)
        if tuple(value.shape) != expected:
            raise BackendExecutionError(
                f"backend '{self.backend.name}' returned shape {list(value.shape)} for a chunk, expected "
                f"{list(expected)}; the backend plugin breaks the evaluate() contract"
            )
        self.tracker.calls += 1
        self.tracker.rows += expected[0]
        self.tracker.shots += expected[0] * (self.shots or 0)
        estimate = self.backend.estimate_seconds(prepared.compiled, expected[0], self.shots)
        if estimate is not None:
            self.tracker.estimated_device_seconds += estimate
        return value

    def vjp(
        self, prepared: PreparedCircuit, inputs: torch.Tensor, weights: torch.Tensor, cotangent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The backend's own vector-Jacobian product, chunked like `execute`; cotangent in backend order."""
        size = self.capabilities.max_batch or max(inputs.shape[0], 1)
        grad_inputs, grad_weights = [], torch.zeros_like(weights)
        for start in range(0, inputs.shape[0], size):
            rows = slice(start, start + size)
            chunk_weights = weights[rows] if weights.dim() == 2 else weights
            g_in, g_w = self.backend.vjp(prepared.compiled, inputs[rows], chunk_weights, cotangent[rows])
            grad_inputs.append(g_in)
            if weights.dim() == 2:
                grad_weights[rows] = g_w
            else:
                grad_weights = grad_weights + g_w
        return torch.cat(grad_inputs), grad_weights
