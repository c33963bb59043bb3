"""The contract every quantum backend fulfils.

A backend declares what it can do as data (`Capabilities`), turns a
backend-neutral `Circuit` into its own executable form once (`compile`), and
evaluates that compiled form on a whole batch of input angles in one call
(`evaluate`). The core validates circuits against the capabilities before any
compute is spent, reorders little-endian output, applies the parameter-shift
rule for backends that are not differentiable in torch, and owns everything
else (encoding, fusion, training).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from qwthn.circuit import Circuit
from qwthn.errors import CapabilityError


class Capabilities(BaseModel):
    """What a backend can do, declared up front so the core can check before running."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_qubits: int = Field(ge=1, description="largest circuit it accepts")
    supported_gates: frozenset[str] = Field(description="gate names of qwthn.circuit it executes")
    differentiable: bool = Field(description="evaluate() output carries torch autograd gradients")
    supports_shots: bool = Field(description="finite-shot sampling is available")
    supports_noise: bool = Field(default=False, description="it models hardware noise")
    qubit_ordering: Literal["big", "little"] = Field(
        default="big", description="'big': wire 0 is the most significant bit of `probs` indices"
    )
    remote: bool = Field(default=False, description="jobs leave this machine (queues, credentials)")
    devices: tuple[str, ...] = Field(default=("cpu",), description="torch device types it computes on")


class QuantumBackend(ABC):
    """Base class of backend plugins; subclasses set `name` and `capabilities`.

    `options` are the backend-specific keyword arguments given to
    `qwthn.get_backend(name, **options)` (from `backend_options` in configs).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    capabilities: Capabilities

    def __init__(self, **options: Any) -> None:
        if options:
            raise CapabilityError(
                f"backend '{self.name}' takes no options, got {sorted(options)}; remove them from backend_options"
            )

    def check(self, circuit: Circuit, shots: int | None = None) -> None:
        """Refuse, before compiling, a circuit this backend cannot run."""
        caps = self.capabilities
        if circuit.n_qubits > caps.max_qubits:
            raise CapabilityError(
                f"backend '{self.name}' runs at most {caps.max_qubits} qubits, the circuit has "
                f"{circuit.n_qubits}; lower n_qubits or pick another backend"
            )
        unsupported = circuit.gate_names - caps.supported_gates
        if unsupported:
            raise CapabilityError(
                f"backend '{self.name}' does not support gates {sorted(unsupported)}; "
                f"it supports {sorted(caps.supported_gates)}"
            )
        if shots is not None and not caps.supports_shots:
            raise CapabilityError(f"backend '{self.name}' has no finite-shot mode; set shots to null")

    @abstractmethod
    def compile(self, circuit: Circuit) -> Any:
        """Turn the circuit into this backend's executable form (called once per layer)."""

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
        basis probabilities indexed in the backend's declared `qubit_ordering`.
        With `shots`, values are estimated from that many samples per row.
        """
