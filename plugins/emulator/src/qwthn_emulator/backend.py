"""`EmulatorBackend`: the default backend, exact state-vector emulation as batched tensor ops in torch.

Differentiable by autograd with respect to inputs and weights, on CPU or CUDA
(wherever `inputs` lives), in complex64 or complex128. How it stays fast: `plan`
(compile-time: product-state prefix, merged ops, fixed blocks), `gates` (all gate
matrices of an evaluation in a few batched ops), `engine` (when a fixed block becomes
one dense unitary) and `unitary` (building it, and applying it with one GEMM).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from qwthn.contract.backend import Capabilities, QuantumBackend, check_batch
from qwthn.contract.circuit import Circuit, Gate
from qwthn_emulator.encoded import EncodedShape, encoded_shape, evaluate_encoded, evaluate_reencoded
from qwthn_emulator.engine import simulate
from qwthn_emulator.gates import Constant, GateMatrices, GateTable
from qwthn_emulator.options import EmulatorOptions
from qwthn_emulator.plan import Plan, build_plan
from qwthn_emulator.readout import read_out, z_signs
from qwthn_emulator.sampling import sample_probabilities
from qwthn_emulator.state import probabilities
from qwthn_emulator.unitary import block_unitary

UNITARY_CACHE = 256
"""Weight sets whose unitaries a compiled circuit keeps for gradient-free calls (a 135M model adapts 60 layers)."""
NATIVE_GATES = frozenset({"RX", "RY", "RZ", "H", "X", "CZ", "CNOT"})
"""What the kernels implement: one-qubit gates of the gate table, and two-qubit gates that permute basis
states with signs (plan.py composes those into one gather). Controlled rotations are not among them yet."""


@dataclass(frozen=True, eq=False)
class Layout:
    """A plan and its gate table, for one way the weights can arrive."""

    plan: Plan
    table: GateTable
    encoded: EncodedShape | None = None
    """Where the inputs enter when the plan takes the RY-encoded path (encoded.py), else None."""

    @classmethod
    def build(cls, circuit: Circuit, per_row: Callable[[Gate], bool]) -> Layout:
        plan = build_plan(circuit.gates, circuit.n_qubits, per_row)
        one_qubit = (gate for gate in circuit.gates if len(gate.wires) == 1)
        return cls(plan, GateTable.build(one_qubit, per_row, plan.local_ops), encoded_shape(plan, circuit.n_qubits))


@dataclass(eq=False)
class CompiledCircuit:
    """The emulator's executable form: one layout per weight shape, plus cached device copies of constants."""

    circuit: Circuit
    shared: Layout
    """For weights [n_weights]: weight angles are the same on every row, so weight gates fuse."""
    per_row: Layout
    """For weights [batch, n_weights]: weight angles differ per row, like inputs."""
    signs: torch.Tensor
    _constants: dict[tuple[int, torch.device, torch.dtype], torch.Tensor] = field(default_factory=dict)
    _unitaries: dict[tuple, list[torch.Tensor]] = field(default_factory=dict)

    def cached_unitaries(
        self, layout: Layout, gates: GateMatrices, build: Callable[[], list[torch.Tensor]]
    ) -> list[torch.Tensor]:
        """The fixed blocks' unitaries, reused while no gradient is wanted and the weights are the same values.

        Why: generating text calls every adapted layer once per token with unchanged weights; rebuilding its
        unitaries (a few hundred small ops for the authors' four-block circuit) each time dominated the
        call. A model shares one compiled circuit between its layers, so the cache is keyed by the weights'
        values (up to `UNITARY_CACHE` sets, CPU only: reading GPU values would synchronise every call).
        """
        weights = gates.weights
        if (torch.is_grad_enabled() and weights.requires_grad) or weights.device.type != "cpu":
            return build()
        key = (id(layout), weights.dtype, weights.detach().numpy().tobytes())
        if key not in self._unitaries:
            if len(self._unitaries) >= UNITARY_CACHE:
                self._unitaries.pop(next(iter(self._unitaries)))
            self._unitaries[key] = build()
        return self._unitaries[key]

    def constant(self, tensor: torch.Tensor, device: torch.device, real_dtype: torch.dtype) -> torch.Tensor:
        """`tensor` on `device`, real or complex in the precision of `real_dtype`; index tensors stay integral."""
        dtype = tensor.dtype
        if tensor.is_complex():
            dtype = torch.complex128 if real_dtype == torch.float64 else torch.complex64
        elif tensor.is_floating_point():
            dtype = real_dtype
        key = (id(tensor), device, dtype)
        if key not in self._constants:
            self._constants[key] = tensor.to(device=device, dtype=dtype)
        return self._constants[key]


class EmulatorBackend(QuantumBackend):
    """Exact, batched, differentiable state-vector emulator.

    Options: `dtype` ("complex64" default, or "complex128"; results come back in the
    matching real dtype) and `fuse_threshold` (see `EmulatorOptions`).

    With `shots`, each row's read-out is estimated from `shots` samples of the exact
    distribution (reproducible with `seed`), returned as `exact + (sampled - exact).detach()`:
    the forward value is the shot estimate while the gradient is the exact one, i.e.
    the expectation of what parameter-shift on the same shots would estimate, without its noise.
    """

    name: ClassVar[str] = "emulator"
    description: ClassVar[str] = "exact state-vector emulation in torch (CPU/CUDA), autograd gradients"
    Options: ClassVar[type[EmulatorOptions]] = EmulatorOptions
    options: EmulatorOptions

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_qubits=20,  # one complex64 row is 8 MiB at n = 20, and autograd keeps about one state per op
            native_gates=NATIVE_GATES,
            gradient="autograd",
            supports_shots=True,
            supports_noise=False,
            qubit_ordering="big",
            remote=False,
            devices=("cpu", "cuda"),
        )

    def compile(self, circuit: Circuit) -> CompiledCircuit:
        shared = Layout.build(circuit, lambda gate: gate.angle is not None and gate.angle.source == "input")
        per_row = Layout.build(circuit, lambda gate: gate.angle is not None and gate.angle.source != "const")
        wires = circuit.readout.wires if circuit.readout.kind == "expval_z" else ()
        return CompiledCircuit(circuit, shared, per_row, z_signs(circuit.n_qubits, wires))

    def evaluate(
        self,
        compiled: CompiledCircuit,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        circuit = compiled.circuit
        check_batch("emulator", circuit, inputs, weights, shots)
        device, real = inputs.device, self.options.real_dtype
        layout = compiled.per_row if weights.dim() == 2 else compiled.shared

        def constant(tensor: torch.Tensor) -> torch.Tensor:
            return compiled.constant(tensor, device, real)

        gates = GateMatrices(layout.table, inputs.to(dtype=real), weights.to(device=device, dtype=real), constant)
        signs = constant(compiled.signs)
        if layout.encoded is not None and shots is None and self.options.fuse_threshold > 0:
            return self._evaluate_encoded(compiled, layout, gates, constant, signs)
        state = simulate(layout.plan, circuit.n_qubits, gates, constant, self.options.fuse_threshold)
        probs = probabilities(state)
        probs = probs.expand(inputs.shape[0], -1)
        exact = read_out(probs, circuit.readout, signs)
        if shots is None:
            return exact.contiguous()
        sampled = read_out(sample_probabilities(probs, shots, seed), circuit.readout, signs)
        return exact + (sampled - exact).detach()

    def _evaluate_encoded(
        self, compiled: CompiledCircuit, layout: Layout, gates: GateMatrices, constant: Constant, signs: torch.Tensor
    ) -> torch.Tensor:
        """RY-encoded circuits (encoded.py): one fixed block by the hand-written path, re-encoding ones as a GEMM
        chain; fixed blocks become unitaries here (the prefix tails folded into the first)."""
        circuit, plan, shape = compiled.circuit, layout.plan, layout.encoded
        like = gates.inputs
        if circuit.readout.kind != "expval_z":
            signs = torch.eye(2**circuit.n_qubits, dtype=like.dtype, device=like.device)
        unitaries = compiled.cached_unitaries(layout, gates, lambda: self._unitaries(circuit.n_qubits, plan, gates,
                                                                                    constant))  # fmt: skip
        if not shape.layers:
            angles = like if list(shape.first) == list(range(circuit.n_inputs)) else like[:, list(shape.first)]
            return evaluate_encoded(angles, unitaries[0], signs)
        if len(unitaries) == len(shape.layers):  # the circuit ends on a re-encoding layer
            unitaries.append(torch.eye(2**circuit.n_qubits, dtype=like.dtype, device=like.device))
        return evaluate_reencoded(like, shape, unitaries, signs)

    @staticmethod
    def _unitaries(n_qubits: int, plan: Plan, gates: GateMatrices, constant: Constant) -> list[torch.Tensor]:
        fixed = [block.ops for block in plan.blocks if block.fusable] or [()]
        fixed[0] = plan.tail_ops + fixed[0]
        return [block_unitary(n_qubits, ops, gates, constant, like=gates.inputs) for ops in fixed]
