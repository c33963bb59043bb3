"""The contract every quantum backend fulfils.

A backend is built from a validated options model, declares what that instance
can do as data (`capabilities`), turns a backend-neutral `Circuit` into its own
executable form once (`compile`), and evaluates it on a whole batch of angles
per call (`evaluate`, or `submit` for backends whose jobs leave the process).
It only translates and executes: the checks, chunking to `max_batch`, seeds,
retries, qubit reordering and gradients are the core runtime's
(`qwthn.runtime`), written once for every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal, Protocol

import torch
from pydantic import BaseModel, ConfigDict, Field

from qwthn.contract.circuit import Circuit
from qwthn.errors import QwthnError

GradientMethod = Literal["autograd", "vjp", "parameter-shift"]


class Capabilities(BaseModel):
    """What one backend instance can do, declared up front so the core checks before any compute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_qubits: int = Field(ge=1, description="largest circuit it accepts")
    native_gates: frozenset[str] = Field(description="gate-table names it executes; any other gate is refused")
    gradient: GradientMethod = Field(
        description="'autograd': outputs carry torch gradients; 'vjp': the backend's own `vjp`; "
        "'parameter-shift': the core differentiates by shifted evaluations"
    )
    supports_shots: bool = Field(description="finite-shot sampling is available")
    exact: bool = Field(default=True, description="shots=None gives exact expectation values")
    supports_noise: bool = Field(default=False, description="it models hardware noise")
    noise_off: dict[str, Any] | None = Field(
        default=None,
        description="with supports_noise: the options that, merged into this instance's, build the same backend "
        "with its noise switched off (ideal, supports_noise=False), on which the conformance suite certifies "
        "exact semantics; None: no off switch (real hardware), exact semantics cannot be certified",
    )
    qubit_ordering: Literal["big", "little"] = Field(
        default="big", description="'big': wire 0 is the most significant bit of `probs` indices"
    )
    coupling_map: frozenset[tuple[int, int]] | None = Field(
        default=None, description="wire pairs a two-qubit gate may act on (either direction); None: all-to-all"
    )
    routes: bool = Field(
        default=False, description="it maps circuits onto its coupling map itself (transpiler); the core then skips it"
    )
    max_batch: int | None = Field(default=None, ge=1, description="most rows one call may carry; None: unbounded")
    max_shots: int | None = Field(default=None, ge=1, description="most shots per row; None: unbounded")
    remote: bool = Field(default=False, description="jobs leave this machine (queues, credentials)")
    devices: tuple[str, ...] = Field(default=("cpu",), description="torch device types it computes on")


class NoiseBound(BaseModel):
    """How far a backend's noise can move one compiled circuit's exact outputs from the ideal ones, for any angles.

    Declared by `QuantumBackend.noise_bound` so the conformance suite can compare noisy values with the
    ideal reference instead of only with themselves. Both figures must be rigorous upper bounds:

    - `gates`: total-variation distance between the outcome distribution just before read-out and the
      ideal one. Summing, over the noisy operations, each channel's diamond distance to the identity
      (1/2 ||N - id||_diamond) bounds it, because channels do not increase trace distance.
    - `readout`: per logical wire of the circuit (wire order), the largest probability of reading that
      wire wrong (max(P(1|0), P(0|1))); empty: read-out is ideal (or fully mitigated).

    The suite then allows |probs[x] - ideal| <= gates + 1 - prod_w(1 - readout[w]) and
    |<Z_w> - ideal| <= 2 (gates + readout[w]) (the read-out of other wires leaves <Z_w>'s marginal alone).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gates: float = Field(ge=0.0, description="total-variation bound from the noise of the circuit's operations")
    readout: tuple[float, ...] = Field(default=(), description="per logical wire: worst misread probability")


def check_batch(
    backend: str, circuit: Circuit, inputs: torch.Tensor, weights: torch.Tensor, shots: int | None = None
) -> None:
    """Refuse arguments of `evaluate` that break the contract, with one line naming the backend.

    The runtime only sends well-formed batches; backends call this so that direct calls (tests,
    notebooks) fail clearly instead of deep inside an SDK.
    """
    if inputs.dim() != 2 or inputs.shape[1] != circuit.n_inputs:
        raise QwthnError(f"{backend}: inputs must be [batch, {circuit.n_inputs}], got {list(inputs.shape)}")
    per_row = weights.dim() == 2 and weights.shape[0] == inputs.shape[0]
    if weights.shape[-1:] != (circuit.n_weights,) or not (weights.dim() == 1 or per_row):
        raise QwthnError(
            f"{backend}: weights must be [{circuit.n_weights}] or [{inputs.shape[0]}, {circuit.n_weights}], "
            f"got {list(weights.shape)}"
        )
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 1):
        raise QwthnError(f"{backend}: shots must be a positive integer or None, got {shots!r}")


class NoOptions(BaseModel):
    """The options model of a backend that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BackendJob(Protocol):
    """A submitted evaluation; `result` blocks until it is done or `timeout` seconds pass."""

    def result(self, timeout: float | None = None) -> torch.Tensor: ...


class CompletedJob:
    """A job that already has its result (what synchronous backends return from `submit`)."""

    def __init__(self, value: torch.Tensor) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> torch.Tensor:
        return self._value


class QuantumBackend(ABC):
    """Base class of backend plugins: set `name`, `Options`, and implement `capabilities`, `compile`, `evaluate`.

    The core builds instances as `Backend(options)` with `options` already validated
    against `Options` (from `backend_options` in a runtime config), so two instances
    of one plugin (a 20-qubit and a 72-qubit device) can declare different capabilities.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What this instance can do (may depend on its options)."""

    @abstractmethod
    def compile(self, circuit: Circuit) -> Any:
        """This backend's executable form of `circuit`; the runtime caches it per circuit."""

    @abstractmethod
    def evaluate(
        self,
        compiled: Any,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        """Read out a whole batch in one call.

        inputs: [batch, n_inputs] real angles. weights: [n_weights] shared by the
        batch, or [batch, n_weights] (one row each, as parameter-shift sends).
        Returns [batch, circuit.n_outputs] real values: <Z_w> per readout wire, or
        basis probabilities indexed in the declared `qubit_ordering`. With `shots`,
        values are estimated from that many samples per row, reproducibly for a `seed`.
        Never more than `max_batch` rows arrive. Raise `TransientBackendError` for
        failures worth retrying.
        """

    def submit(
        self,
        compiled: Any,
        inputs: torch.Tensor,
        weights: torch.Tensor,
        *,
        shots: int | None = None,
        seed: int | None = None,
    ) -> BackendJob:
        """Start an evaluation and return its job; remote backends override this so chunks queue together."""
        return CompletedJob(self.evaluate(compiled, inputs, weights, shots=shots, seed=seed))

    def estimate_seconds(self, compiled: Any, rows: int, shots: int | None) -> float | None:
        """Device time `rows` executions of `compiled` would take (None: no estimate); summed by dry runs and real ones.

        A chip model answers from its gate and readout durations; simulators usually have nothing to say.
        """
        return None

    def noise_bound(self, compiled: Any) -> NoiseBound | None:
        """A rigorous bound on how far this instance's noise moves `compiled`'s exact outputs from the ideal ones.

        Only for instances that declare `supports_noise`; None (the default): none declared, and the
        conformance suite then reports noisy values as not certified. Derive it from the noise the
        backend itself applies (its calibration), after its own decomposition and routing.
        """
        return None

    def vjp(
        self, compiled: Any, inputs: torch.Tensor, weights: torch.Tensor, cotangent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(d<cotangent, f>/d inputs, d<cotangent, f>/d weights), exact; needed only with gradient='vjp'.

        `cotangent` is [batch, n_outputs] in the backend's own qubit ordering; the
        returned gradients have the shapes of `inputs` and `weights`.
        """
        raise NotImplementedError(f"backend '{self.name}' declares gradient='vjp' but does not implement vjp()")
