"""`CirqBackend`: qwthn circuits on Cirq's simulators, a whole batch as ONE parameter sweep.

`compile` translates a circuit once into a symbolic `cirq.Circuit` (`translate`); `evaluate`
binds every row of a batch as one `cirq.Zip` of `cirq.Points` and runs one sweep call on the
simulator the options pick (`simulate`). Gradients are the core's parameter-shift rule: Cirq's
simulators do not differentiate, and every shifted copy arrives as per-row weights in one sweep.
Cirq is imported on first compile, so listing backends stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch

from qwthn.contract.backend import Capabilities, QuantumBackend, check_batch
from qwthn.contract.circuit import Circuit
from qwthn_cirq.options import MAX_QUBITS, CirqOptions

if TYPE_CHECKING:
    from qwthn_cirq.translate import Translated

NATIVE_GATES = frozenset({"RX", "RY", "RZ", "H", "X", "CZ", "CNOT", "CRX", "CRY", "CRZ"})
"""Every gate of the gate table (translate.GATE_MAKERS; the tests check both agree)."""


class CirqBackend(QuantumBackend):
    """Cirq's `Simulator` (default), `DensityMatrixSimulator` (exact noise) or qsim, one sweep per batch.

    Options: see `CirqOptions` (`simulator`, `dtype`, `depolarizing`, `noise_model`, `qsim_threads`,
    `max_batch`). Exact mode reads final states; with `shots`, `run_sweep` samples from a
    simulator seeded with the runtime's per-chunk `seed`, so equal seeds give equal estimates.
    """

    name: ClassVar[str] = "cirq"
    description: ClassVar[str] = "Cirq simulators (state vector, exact noisy density matrix, qsim), a sweep per batch"
    Options: ClassVar[type[CirqOptions]] = CirqOptions
    options: CirqOptions

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_qubits=MAX_QUBITS[self.options.kind],
            native_gates=NATIVE_GATES,
            gradient="parameter-shift",
            supports_shots=True,
            exact=True,
            supports_noise=self.options.noisy,
            qubit_ordering="big",
            max_batch=self.options.max_batch,
            remote=False,
        )

    def compile(self, circuit: Circuit) -> Translated:
        from qwthn_cirq.translate import translate

        noise = []
        if self.options.depolarizing > 0:
            from qwthn_cirq.noise import GateDepolarizing

            noise.append(GateDepolarizing(self.options.depolarizing))
        if self.options.noise_model is not None:
            noise.append(self.options.noise_model)
        return translate(circuit, noise)

    def evaluate(
        self,
        compiled: Translated,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        from qwthn_cirq.simulate import exact, make_simulator, sampled
        from qwthn_cirq.translate import sweep

        circuit = compiled.circuit
        check_batch("cirq", circuit, inputs, weights, shots)
        x = inputs.detach().cpu().to(torch.float64).numpy()
        w = weights.detach().cpu().to(torch.float64).numpy()
        rows = x.shape[0]
        if rows == 0:
            values = np.zeros((0, circuit.n_outputs))
        else:
            simulator = make_simulator(self.options, seed)
            points = sweep(compiled, x, w)
            values = (
                exact(simulator, compiled, points, rows)
                if shots is None
                else sampled(simulator, compiled, points, rows, shots)
            )
        return torch.from_numpy(values).to(device=inputs.device)
