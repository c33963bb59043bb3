"""`PennyLaneBackend`: qwthn circuits on any PennyLane device, a whole batch per `qml.execute` call.

What it declares comes from the chosen device: backprop-capable devices (default.qubit,
default.mixed) give torch autograd graphs (`gradient="autograd"`), adjoint-capable ones
(lightning.qubit) their own `vjp`, any other device the core's parameter-shift. Shots are
offered where the device's constructor takes a `seed` (so estimates are reproducible).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from qwthn.contract.backend import Capabilities, QuantumBackend, check_batch
from qwthn.contract.circuit import Circuit
from qwthn.contract.readout import z_signs
from qwthn_pennylane import devices
from qwthn_pennylane.gradients import adjoint_vjp
from qwthn_pennylane.options import PennyLaneOptions
from qwthn_pennylane.translate import NATIVE_GATES, CompiledCircuit, as_rows, translate

STATE_VECTOR_QUBITS = 20
MIXED_STATE_QUBITS = 10
"""Default max_qubits: what a batch of a few hundred rows still fits in memory (as the emulator's 20)."""

CONTRACT_GRADIENT = {"backprop": "autograd", "adjoint": "vjp", "parameter-shift": "parameter-shift"}
"""The resolved diff method -> what the backend declares to the core."""


class PennyLaneBackend(QuantumBackend):
    """Options: `device` and `device_kwargs` (any installed PennyLane device), `diff_method`, `noise`,
    `max_qubits`, `max_batch` (see `PennyLaneOptions`).

    With shots under backprop, the forward value is the shot estimate and the gradient the exact one
    (`exact + (sampled - exact).detach()`, as the emulator does): PennyLane cannot backprop through sampling.
    """

    name: ClassVar[str] = "pennylane"
    description: ClassVar[str] = (
        "any PennyLane device (default.qubit, lightning.qubit, plugins); one broadcast tape per batch"
    )
    Options: ClassVar[type[PennyLaneOptions]] = PennyLaneOptions
    options: PennyLaneOptions

    def __init__(self, options: PennyLaneOptions | None = None) -> None:
        super().__init__(options)
        opts = self.options
        probe = devices.probe_device(opts.device, opts.device_kwargs)
        self.diff_method = devices.resolve_diff_method(probe, opts.diff_method)
        self._seeded = devices.takes_seed(opts.device)
        mixed_state = devices.runs_channels(probe)  # it runs noise channels, so it simulates density matrices
        self._density_matrix = self.diff_method == "backprop" and mixed_state  # see `_run_torch`
        # a batch of B states costs B 2^n amplitudes, or B 4^n for density matrices
        self._max_qubits = opts.max_qubits or (MIXED_STATE_QUBITS if mixed_state else STATE_VECTOR_QUBITS)
        self._device_vjp = self.diff_method == "adjoint" and devices.supports_device_vjp(probe)

    @property
    def capabilities(self) -> Capabilities:
        opts = self.options
        return Capabilities(
            max_qubits=self._max_qubits,
            native_gates=NATIVE_GATES,
            gradient=CONTRACT_GRADIENT[self.diff_method],
            supports_shots=self._seeded,
            exact=True,
            supports_noise=opts.noise is not None and opts.noise.active,
            qubit_ordering="big",
            max_batch=opts.max_batch,
            remote=False,
            devices=("cpu",),
        )

    def _device(self, n_qubits: int, seed: int | None = None) -> Any:
        return devices.make_device(self.options.device, self.options.device_kwargs, n_qubits, seed)

    def compile(self, circuit: Circuit) -> CompiledCircuit:
        compiled = translate(circuit, self.options.noise)
        compiled.device = self._device(circuit.n_qubits)
        return compiled

    def evaluate(
        self,
        compiled: CompiledCircuit,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        check_batch("pennylane", compiled.circuit, inputs, weights)
        home = inputs.device
        # torch graphs only where backprop is declared and someone will differentiate; otherwise plain numpy
        needs_graph = (
            self.diff_method == "backprop"
            and torch.is_grad_enabled()
            and (inputs.requires_grad or weights.requires_grad)
        )
        if shots is None:
            if needs_graph:
                return self._run_torch(compiled, inputs, weights).to(home)
            return self._run_numpy(compiled, compiled.device, inputs, weights, None).to(home)
        device = self._device(compiled.circuit.n_qubits, seed)
        sampled = self._run_numpy(compiled, device, inputs, weights, shots)
        if needs_graph:
            exact = self._run_torch(compiled, inputs, weights)
            return (exact + (sampled - exact).detach()).to(home)
        return sampled.to(home)

    def vjp(
        self, compiled: CompiledCircuit, inputs: torch.Tensor, weights: torch.Tensor, cotangent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        grad_inputs, grad_weights = adjoint_vjp(
            compiled, compiled.device, _numpy(inputs), _numpy(weights), _numpy(cotangent), device_vjp=self._device_vjp
        )
        as_torch = lambda array, like: torch.from_numpy(np.asarray(array, dtype=np.float64)).to(like.device)  # noqa: E731
        return as_torch(grad_inputs, inputs), as_torch(grad_weights, weights)

    def _run_numpy(
        self, compiled: CompiledCircuit, device: Any, inputs: torch.Tensor, weights: torch.Tensor, shots: int | None
    ) -> torch.Tensor:
        """One tape for the whole batch, plain numpy parameters (no gradient bookkeeping)."""
        import pennylane as qml

        tape = compiled.bind(_numpy(inputs), _numpy(weights), shots=shots)
        (result,) = qml.execute([tape], device, diff_method=None)
        rows = as_rows(result, len(tape.measurements), tape.batch_size is not None, inputs.shape[0], qml.math)
        return torch.from_numpy(np.asarray(rows, dtype=np.float64))

    def _run_torch(self, compiled: CompiledCircuit, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """One tape for the whole batch with torch parameters: the simulation itself keeps the autograd graph."""
        import pennylane as qml

        inputs = inputs.to(device="cpu", dtype=torch.float64)
        weights = weights.to(device="cpu", dtype=torch.float64)
        if not self._density_matrix:
            tape = compiled.bind(inputs, weights)
            (result,) = qml.execute([tape], compiled.device, diff_method="backprop", interface="torch")
            rows = as_rows(result, len(tape.measurements), tape.batch_size is not None, inputs.shape[0], qml.math)
            return rows.to(torch.float64)
        # Mixed-state devices: PennyLane 0.45 reads probs/expval off a density matrix through sqrt(diag), whose
        # gradient is NaN wherever a basis probability is exactly 0 (any untouched wire). Reading the real
        # diagonal of qml.density_matrix ourselves gives the same values with finite gradients.
        circuit = compiled.circuit
        if weights.dim() == 1:
            # Shared weights go in per row here: a 0-d torch angle makes RZ/CRZ.compute_eigvals complex64 in
            # PennyLane 0.45 (torch promotes float64 0-d x complex64 1-d to complex64), which default.mixed
            # uses; 1-d angles stay complex128. Autograd sums the rows' gradients back onto the weights.
            weights = weights.expand(inputs.shape[0], -1)
        tape = compiled.bind(inputs, weights, measurements=[qml.density_matrix(wires=list(range(circuit.n_qubits)))])
        (rho,) = qml.execute([tape], compiled.device, diff_method="backprop", interface="torch")
        probs = torch.real(torch.diagonal(rho, dim1=-2, dim2=-1)).reshape(-1, 2**circuit.n_qubits)
        probs = probs.expand(inputs.shape[0], -1).to(torch.float64)
        if circuit.readout.kind == "probs":
            return probs
        return probs @ torch.from_numpy(z_signs(circuit.n_qubits, circuit.readout.wires))


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy()
