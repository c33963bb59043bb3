"""`BraketBackend`: qwthn circuits on Amazon Braket, a whole batch per SDK call.

Local (offline): `LocalSimulator("braket_sv")`, or `LocalSimulator("braket_dm")` with
optional depolarizing and read-out noise. Remote: an `AwsDevice` by ARN, which needs AWS
credentials; that path is unit-tested with fake devices only and was never run against the
Braket service. Capabilities come from the device's own properties (qubits, operations,
shot range, program-set limits). Gradients are the core's parameter-shift rule. Braket
indexes probabilities with qubit 0 as the most significant bit, i.e. qwthn's big-endian
order. How rows become SDK calls: `execute`; shot seeding on local simulators: `simulators`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from qwthn.contract.backend import BackendJob, Capabilities, QuantumBackend, check_batch
from qwthn.contract.circuit import Circuit
from qwthn_braket.device import DeviceLimits, OpenDevice, open_device, read_limits
from qwthn_braket.execute import Executor
from qwthn_braket.jobs import BraketJob
from qwthn_braket.options import BraketOptions
from qwthn_braket.program import CompiledCircuit, compile_circuit
from qwthn_braket.translate import BRAKET_OPERATIONS, IDLE_OPERATION


class BraketBackend(QuantumBackend):
    """Amazon Braket: local state-vector / density-matrix simulators, or an AWS device by ARN.

    `device` may be passed to use an already-built Braket device (an `AwsDevice`, or a fake
    one in tests) instead of opening `options.device`; the options still decide how it is
    treated (local or remote).
    """

    name: ClassVar[str] = "braket"
    description: ClassVar[str] = (
        "Amazon Braket: LocalSimulator braket_sv/braket_dm (offline, seeded shots, noise on braket_dm) "
        "or an AwsDevice by ARN; run_batch / program sets, parameter-shift gradients"
    )
    Options: ClassVar[type[BraketOptions]] = BraketOptions
    options: BraketOptions

    def __init__(self, options: BraketOptions | None = None, *, device: Any = None) -> None:
        super().__init__(options)
        self._opened: OpenDevice | None = OpenDevice(device) if device is not None else None
        self._limits: DeviceLimits | None = None
        self._capabilities: Capabilities | None = None

    @property
    def opened(self) -> OpenDevice:
        if self._opened is None:
            self._opened = open_device(self.options)
        return self._opened

    @property
    def limits(self) -> DeviceLimits:
        if self._limits is None:
            self._limits = read_limits(self.opened.device.properties)
        return self._limits

    @property
    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            limits, options = self.limits, self.options
            max_batch = limits.max_executables if limits.program_sets else None
            if options.max_batch is not None:
                max_batch = min(options.max_batch, max_batch or options.max_batch)
            qpu = not options.local and "/quantum-simulator/" not in options.device
            self._capabilities = Capabilities(
                max_qubits=min(limits.max_qubits, options.max_qubits or limits.max_qubits),
                native_gates=frozenset(g for g, ops in BRAKET_OPERATIONS.items() if ops <= limits.operations),
                gradient="parameter-shift",
                supports_shots=limits.max_shots > 0,
                exact=limits.exact,
                supports_noise=options.noisy or qpu,
                qubit_ordering="big",
                max_batch=max_batch,
                max_shots=limits.max_shots_per_row,
                remote=not options.local,
            )
        return self._capabilities

    def compile(self, circuit: Circuit) -> CompiledCircuit:
        return compile_circuit(circuit, self.options, pad_idle=IDLE_OPERATION in self.limits.operations)

    def submit(
        self,
        compiled: CompiledCircuit,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> BackendJob:
        check_batch("braket", compiled.circuit, inputs, weights, shots)
        values = compiled.bind(inputs, weights)
        if values.shape[0] == 0:
            tasks, decode = [], lambda _: np.zeros((0, compiled.circuit.n_outputs))
        else:
            executor = Executor(self.opened, self.limits, self.options)
            if shots is None:
                tasks, decode = executor.exact(compiled, values)
            else:
                tasks, decode = executor.sampled(compiled, values, shots, seed)
        return BraketJob(tasks, decode, device=inputs.device, poll_interval=self.options.poll_interval)

    def evaluate(
        self,
        compiled: CompiledCircuit,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        return self.submit(compiled, inputs, weights, shots=shots, seed=seed).result()
