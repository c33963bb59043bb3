"""What the conformance tests share: the backend under test, running circuits through the core, and comparisons.

Tolerances (stated once, used everywhere):

- exact backends (`shots=None`): every entry within `EXACT_ATOL` = 1e-5 of the
  reference (gradients: 1e-5 * max(1, |reference|));
- finite shots: every entry within `SIGMAS` = 5 standard errors of its exact
  value, computed per entry from the reference (probabilities: sqrt(p(1-p)/shots);
  <Z>: sqrt((1-<Z>^2)/shots)), plus a floor of `FLOOR_COUNTS` = 2 counts
  (2/shots) and 1e-5, so entries whose exact variance is ~0 do not fail on one count.
- noisy values against the ideal reference: the backend's declared `NoiseBound` (see
  `noise_allowance`: gates + 1 - prod(1 - readout) per probability, 2 (gates + readout[w]) per
  <Z_w>) plus the tolerance above (with shots and no exact values, the worst-case variance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from qwthn.contract.backend import Capabilities, NoiseBound, QuantumBackend
from qwthn.contract.circuit import Circuit
from qwthn.contract.gates import GATES
from qwthn.runtime.executor import Runtime
from qwthn.runtime.quantum_layer import QuantumLayer
from qwthn.testing import reference

EXACT_ATOL = 1e-5
SIGMAS = 5.0
FLOOR_COUNTS = 2.0
SHOTS = 4000
MAX_CHECKED_QUBITS = 10


@dataclass
class BackendUnderTest:
    """The backend named on the command line, with its options; `create()` builds a fresh instance."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    role: str = ""
    """How this configuration relates to the one named on the command line ("": it is that one)."""
    _capabilities: Capabilities | None = field(default=None, repr=False)

    def create(self) -> QuantumBackend:
        from qwthn.plugins import host

        return host.create_backend(self.name, self.options)

    @property
    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            self._capabilities = self.create().capabilities
        return self._capabilities

    @property
    def label(self) -> str:
        options = f" with options {json.dumps(self.options, sort_keys=True)}" if self.options else ""
        role = f" ({self.role})" if self.role else ""
        return f"backend '{self.name}'{options}{role}"

    @property
    def checked_qubits(self) -> int:
        """Largest circuit the suite runs: min(max_qubits, 10)."""
        return min(self.capabilities.max_qubits, MAX_CHECKED_QUBITS)

    @property
    def shots(self) -> int | None:
        """None for exact backends; otherwise the shots the value checks sample with."""
        caps = self.capabilities
        return None if caps.exact else self.sampling_shots

    @property
    def sampling_shots(self) -> int:
        caps = self.capabilities
        return min(SHOTS, caps.max_shots) if caps.max_shots is not None else SHOTS

    @property
    def noisy(self) -> bool:
        """Declares active noise: its values may differ from the ideal reference (by its declared bound)."""
        return self.capabilities.supports_noise

    def ideal(self) -> BackendUnderTest | None:
        """Its declared noise-off configuration (options merged with `capabilities.noise_off`); None if it has none.

        AssertionError when that configuration does not build or still declares noise: an off switch
        that does not switch noise off would let the suite certify nothing.
        """
        if not self.noisy or self.capabilities.noise_off is None:
            return None
        options = {**self.options, **self.capabilities.noise_off}
        ideal = BackendUnderTest(self.name, options, role="its declared noise-off configuration")
        try:
            still_noisy = ideal.capabilities.supports_noise
        except Exception as error:  # any failure to build it is the finding
            raise AssertionError(
                f"{self.label} declares noise_off={self.capabilities.noise_off}, but those options do not build "
                f"a backend: {type(error).__name__}: {error}"
            ) from None
        if still_noisy:
            raise AssertionError(
                f"{self.label} declares noise_off={self.capabilities.noise_off}, but with those options it still "
                "declares supports_noise=True: the off switch must give an ideal configuration"
            )
        return ideal

    def noise_bound(self, circuit: Circuit) -> NoiseBound | None:
        """The bound the backend declares for `circuit` as the runtime lowers and compiles it (None: none)."""
        runtime = self.runtime()
        prepared = runtime.prepare(runtime.lower(circuit).circuit)
        bound = runtime.backend.noise_bound(prepared.compiled)
        if bound is not None and bound.readout and len(bound.readout) != circuit.n_qubits:
            raise AssertionError(
                f"{self.label}: noise_bound() gives {len(bound.readout)} read-out figures for a circuit of "
                f"{circuit.n_qubits} qubit(s); give one per logical wire, or none"
            )
        return bound

    def self_reference(self, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor | np.ndarray) -> np.ndarray:
        """The backend's own exact values, each row in a call of its own: independent of chunking, of shared vs
        per-row weights and of the inputs' dtype, so those paths are still checked against something."""
        runtime = self.runtime()
        x = torch.as_tensor(inputs).detach().double()
        w = torch.as_tensor(np.asarray(weights.detach() if isinstance(weights, torch.Tensor) else weights)).double()
        rows = [
            run_rows(runtime, circuit, x[row : row + 1], w if w.dim() == 1 else w[row : row + 1])
            for row in range(x.shape[0])
        ]
        return torch.cat(rows).detach().cpu().double().numpy()

    def self_gradients(
        self, circuit: Circuit, inputs: np.ndarray, weights: np.ndarray, cotangent: np.ndarray, step: float = 1e-4
    ) -> tuple[np.ndarray, np.ndarray]:
        """Central finite differences of sum(cotangent * outputs) over the backend's own exact values."""

        def loss(x: np.ndarray, w: np.ndarray) -> float:
            return float((self.self_reference(circuit, torch.from_numpy(x), w) * cotangent).sum())

        grad_inputs, grad_weights = np.zeros_like(inputs), np.zeros_like(weights)
        for array, grad in ((inputs, grad_inputs), (weights, grad_weights)):
            for index in np.ndindex(array.shape):
                bump = np.zeros_like(array)
                bump[index] = step
                up = loss(inputs + bump, weights) if array is inputs else loss(inputs, weights + bump)
                down = loss(inputs - bump, weights) if array is inputs else loss(inputs, weights - bump)
                grad[index] = (up - down) / (2 * step)
        return grad_inputs, grad_weights

    @property
    def circuit_coupling(self) -> frozenset[tuple[int, int]] | None:
        """The pairs random circuits may couple: the coupling map, unless the backend routes (then any pair)."""
        caps = self.capabilities
        return None if caps.routes else caps.coupling_map

    def runtime(self, *, shots: int | None = None, seed: int | None = None) -> Runtime:
        return Runtime(self.create(), shots=shots, seed=seed)

    def first_declared(self, *names: str) -> str | None:
        return next((name for name in names if name in self.capabilities.native_gates), None)


def run_layer(
    runtime: Runtime, circuit: Circuit, inputs: torch.Tensor, weights: np.ndarray | torch.Tensor
) -> tuple[QuantumLayer, torch.Tensor]:
    """(layer, outputs) of a `QuantumLayer` in the inputs' dtype with `weights` set: the core's user-facing path."""
    layer = QuantumLayer(circuit, runtime).to(device=inputs.device, dtype=inputs.dtype)
    with torch.no_grad():
        layer.weights.copy_(torch.as_tensor(np.asarray(weights), dtype=inputs.dtype))
    return layer, layer(inputs)


def run_rows(runtime: Runtime, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Outputs in core order through `Runtime.lower/prepare/execute` (chunked), weights [W] or per-row [B, W]."""
    lowering = runtime.lower(circuit)
    prepared = runtime.prepare(lowering.circuit)
    inputs, weights = lowering.bind(inputs, weights)
    outputs = runtime.execute(prepared, inputs, weights, runtime.seed_stream())
    if prepared.reorder is not None:
        outputs = outputs[:, prepared.reorder.to(outputs.device)]
    return outputs


def shot_bound(expected: np.ndarray, kind: str, shots: int) -> np.ndarray:
    """Per-entry allowed |estimate - exact| for `shots` samples (see the module docstring)."""
    variance = expected * (1 - expected) if kind == "probs" else 1 - expected**2
    sigma = np.sqrt(np.clip(variance, 0, None) / shots)
    return SIGMAS * sigma + FLOOR_COUNTS / shots + EXACT_ATOL


def value_bound(expected: np.ndarray, kind: str, shots: int | None) -> np.ndarray:
    if shots is None:
        return np.full(expected.shape, EXACT_ATOL)
    return shot_bound(expected, kind, shots)


def noise_allowance(bound: NoiseBound, circuit: Circuit, rows: int) -> np.ndarray:
    """[rows, n_outputs] largest |noisy - ideal| the declared bound allows per entry (see `NoiseBound`).

    probs[x]: |p(x) - q(x)| <= TV(p, q) <= gates + TV(read-out confusion) <= gates + 1 - prod(1 - r_w).
    <Z_w> = 1 - 2 P(w reads 1): |delta| <= 2 TV of wire w's marginal <= 2 (gates + r_w).
    """
    readout = np.asarray(bound.readout if bound.readout else (0.0,) * circuit.n_qubits, dtype=np.float64)
    if circuit.readout.kind == "probs":
        per_entry = np.full(circuit.n_outputs, bound.gates + 1.0 - np.prod(1.0 - readout))
    else:
        per_entry = 2.0 * (bound.gates + readout[list(circuit.readout.wires)])
    return np.broadcast_to(per_entry, (rows, circuit.n_outputs)).copy()


def vacuous(allowance: np.ndarray, kind: str) -> bool:
    """The allowance admits any value (probabilities differ by at most 1, <Z> by at most 2): it certifies nothing."""
    return bool(np.all(allowance >= (1.0 if kind == "probs" else 2.0)))


def worst_case_shot_bound(kind: str, shots: int, shape: tuple[int, ...]) -> np.ndarray:
    """`shot_bound` at the largest variance (p = 1/2, <Z> = 0), for estimates whose exact value is unknown."""
    return shot_bound(np.full(shape, 0.5 if kind == "probs" else 0.0), kind, shots)


def _basis(index: int, n_qubits: int) -> str:
    return f"|{index:0{n_qubits}b}>"


def _entry(circuit: Circuit, column: int) -> str:
    if circuit.readout.kind == "probs":
        return f"probs[{column}] = P({_basis(column, circuit.n_qubits)}, wire 0 leftmost)"
    return f"output {column} = <Z_{circuit.readout.wires[column]}>"


def _bit_reversed(n_qubits: int) -> np.ndarray:
    indices = np.arange(2**n_qubits)
    return np.array([int(f"{i:0{n_qubits}b}"[::-1], 2) for i in indices])


def _hints(actual: np.ndarray, expected: np.ndarray, bound: np.ndarray, circuit: Circuit, label: str) -> str:
    """Recognisable faults, said in words."""
    hints = []
    if circuit.readout.kind == "probs" and circuit.n_qubits > 1:
        reversed_actual = actual[:, _bit_reversed(circuit.n_qubits)]
        if np.all(np.abs(reversed_actual - expected) <= bound):
            hints.append(
                f"the output matches the reference with the bits of each index reversed: {label} returns "
                "little-endian probabilities but declares qubit_ordering='big'"
            )
    if circuit.readout.kind == "probs" and np.any(np.abs(actual.sum(axis=1) - 1) > 1e-4):
        hints.append(f"rows sum to {actual.sum(axis=1).round(6).tolist()}, not 1")
    return "; hint: " + "; ".join(hints) if hints else ""


def check_values(
    actual: torch.Tensor | np.ndarray,
    expected: np.ndarray,
    *,
    circuit: Circuit,
    what: str,
    label: str,
    shots: int | None = None,
    bound: np.ndarray | None = None,
    tolerance_note: str = "",
) -> None:
    """Fail, saying what differed, unless `actual` is within the tolerance (or `bound`) of `expected` everywhere."""
    if isinstance(actual, torch.Tensor):
        actual = actual.detach().cpu().double().numpy()
    actual = np.asarray(actual, dtype=np.float64)
    where = f"{what} on {label}; circuit: {reference.describe(circuit)}"
    if actual.shape != expected.shape:
        raise AssertionError(f"{where}: output shape {list(actual.shape)}, expected {list(expected.shape)}")
    if not np.all(np.isfinite(actual)):
        raise AssertionError(f"{where}: output has non-finite values {actual[~np.isfinite(actual)][:5].tolist()}")
    if bound is None:
        bound = value_bound(expected, circuit.readout.kind, shots)
    error = np.abs(actual - expected)
    outside = error > bound
    if not outside.any():
        return
    row, column = np.unravel_index(np.argmax(np.where(outside, error / bound, -np.inf)), error.shape)
    tolerance = f"{bound[row, column]:.3g}" + (
        f" ({tolerance_note})" if tolerance_note else f" (5 sigma at {shots} shots)" if shots else " (exact)"
    )
    raise AssertionError(
        f"{what}: max |backend - reference| = {error.max():.3g}; {int(outside.sum())} of {error.size} entries "
        f"outside tolerance, worst at row {row}, {_entry(circuit, int(column))}: backend {actual[row, column]:.6g}, "
        f"reference {expected[row, column]:.6g}, allowed {tolerance}; {label}; circuit: "
        f"{reference.describe(circuit)}{_hints(actual, expected, bound, circuit, label)}"
    )


def check_gradient(
    actual: torch.Tensor | None, expected: np.ndarray, *, of: str, circuit: Circuit, label: str, method: str
) -> None:
    """Fail unless `actual` is within EXACT_ATOL * max(1, |expected|) of the finite-difference gradient."""
    if actual is None:
        if not np.any(expected):
            return  # torch leaves .grad unset on a leaf the outputs do not depend on
        raise AssertionError(
            f"gradient by {of}: none arrived, finite differences give max |gradient| = {np.abs(expected).max():.3g} "
            f"(the outputs are not differentiable in {of}); {label} (gradient method '{method}'); circuit: "
            f"{reference.describe(circuit)}"
        )
    got = actual.detach().cpu().double().numpy().reshape(expected.shape)
    bound = EXACT_ATOL * np.maximum(1.0, np.abs(expected))
    error = np.abs(got - expected)
    if np.all(error <= bound):
        return
    index = np.unravel_index(np.argmax(error - bound), error.shape)
    raise AssertionError(
        f"gradient by {of}: max |backend - finite differences| = {error.max():.3g}, worst at index "
        f"{tuple(int(i) for i in index)}: backend {got[index]:.6g}, reference {expected[index]:.6g}, "
        f"allowed {bound[index]:.3g}; {label} (gradient method '{method}'); circuit: "
        f"{reference.describe(circuit)}"
    )


def rng_for(*key: Any) -> np.random.Generator:
    """A generator seeded from `key` (test name, parameters), so every run draws the same circuits."""
    text = "/".join(map(str, key))
    return np.random.default_rng([ord(char) for char in text])


def angles(rng: np.random.Generator, *shape: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(reference.random_angles(rng, *shape), dtype=dtype)


def gate_names(backend: BackendUnderTest) -> list[str]:
    """The declared gates the gate table knows, sorted."""
    return sorted(name for name in backend.capabilities.native_gates if name in GATES)
