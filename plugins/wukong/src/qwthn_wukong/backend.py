"""`WukongBackend`: noisy density-matrix simulation of circuits placed on Origin's 72-qubit Wukong chip.

compile: decompose to {RX, RY, RZ, CZ}, place on calibrated qubits (or the user's layout), route
with SWAPs when needed, build the `NoiseSpec`. evaluate: the engine's exact noisy probabilities
(readout confusion included), optional sampling and readout mitigation, then the read-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from qwthn.contract.backend import Capabilities, NoiseBound, QuantumBackend
from qwthn.contract.circuit import Circuit
from qwthn_wukong.native import SUPPORTED, Schedule, probs_circuit, schedule, to_native
from qwthn_wukong.noise_spec import NoiseSpec
from qwthn_wukong.placement import Placement, place
from qwthn_wukong.profile import ChipProfile

MAX_SIMULATED_QUBITS = 10
"""Density matrices cost 4^n per row: above 10 qubits a batch no longer fits a laptop's memory or time."""


class WukongOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    calibration: Path | None = Field(
        default=None,
        description="calibration JSON (Origin chip config, cloud config or noise profile); None: the built-in "
        "profile of published median figures on all 72 qubits",
    )
    noise_scale: float = Field(default=1.0, ge=0.0, description="0: ideal; 1: as calibrated; >1: worse")
    layout: list[int] | None = Field(
        default=None, description="physical qubit of each logical wire (forced); None: placed by calibration score"
    )
    mitigation: Literal["none", "readout"] = Field(
        default="none", description="'readout': invert each measured qubit's calibrated confusion matrix"
    )
    max_batch: int = Field(
        default=64, ge=1, description="rows per engine call (a 10-qubit density matrix is 16 MiB per row)"
    )
    simulator: Literal["qwthn", "pyqpanda3", "origin-cloud"] = Field(
        default="qwthn", description="'qwthn': our batched density-matrix engine; 'pyqpanda3': Origin's SDK "
        "(DensityMatrixSimulator exact, CPUQVM with shots: one program per row, and unseeded), same noise model; "
        "'origin-cloud': the placed programs on Origin's cloud (API key in QWTHN_ORIGIN_API_KEY; never run here)",
    )  # fmt: skip
    chip_id: str = Field(default="72", description="origin-cloud only: the cloud backend to run on")
    readout_ns: float = Field(
        default=2000.0, ge=0.0, description="measurement and reset time per shot for device-time estimates "
        "(assumed: the calibration files do not state it)",
    )  # fmt: skip


@dataclass(frozen=True)
class WukongProgram:
    source: Circuit
    native: Circuit
    """Native gates on slots (physical[slot] is the qubit), read-out 'probs'."""
    placement: Placement
    noise: NoiseSpec
    schedule: Schedule


MAX_PROGRAMS_PER_GROUP = 200
"""Origin's cloud takes at most 200 programs per group (pyqpanda3 tutorial)."""


class WukongBackend(QuantumBackend):
    name = "wukong"
    description = "Origin Wukong 72-qubit chip simulator: calibrated noise, placement and routing (density matrix)"
    Options = WukongOptions

    @cached_property
    def profile(self) -> ChipProfile:
        from qwthn_wukong.calibration import resolve_profile

        return resolve_profile(self.options.calibration)

    @property
    def capabilities(self) -> Capabilities:
        profile, cloud = self.profile, self.options.simulator == "origin-cloud"
        return Capabilities(
            max_qubits=max(1, min(profile.largest_component(), MAX_SIMULATED_QUBITS)),
            native_gates=SUPPORTED,
            gradient="parameter-shift",
            supports_shots=True,
            exact=not cloud,  # the chip only samples
            supports_noise=cloud or self.options.noise_scale > 0,
            # the simulator's noise switches off (noise_scale 0: ideal, same placement); the chip's cannot
            noise_off=None if cloud else {"noise_scale": 0.0},
            qubit_ordering="big",
            coupling_map=None,
            routes=True,
            max_batch=MAX_PROGRAMS_PER_GROUP if cloud else self.options.max_batch,
            max_shots=profile.max_shots,
            remote=cloud,
        )

    @cached_property
    def cloud(self) -> Any:
        """The Origin cloud runner (imports pyqpanda3 and reads the API key only when first used)."""
        from qwthn_wukong.origin.cloud import CloudRunner

        return CloudRunner(self.options.chip_id)

    def submit(self, compiled: WukongProgram, inputs, weights, *, shots=None, seed=None):
        """On the cloud, one group job per chunk (the runtime chunks to 200 programs); locally, evaluate."""
        if self.options.simulator != "origin-cloud":
            return super().submit(compiled, inputs, weights, shots=shots, seed=seed)
        from qwthn_wukong.origin.translate import to_qprogs

        inputs = torch.as_tensor(inputs, dtype=torch.float64)
        programs = to_qprogs(compiled.native, inputs, torch.as_tensor(weights, dtype=torch.float64),
                             qubits=compiled.placement.physical)  # fmt: skip
        return _FinishedOnRead(self.cloud.run(programs, shots, compiled.native.n_qubits), self, compiled)

    def compile(self, circuit: Circuit) -> WukongProgram:
        from qwthn_wukong.noise_model import build_noise_spec

        native = to_native(circuit)
        placement = place(self.profile, native, self.options.layout)
        program = probs_circuit(circuit.n_qubits, placement.gates, circuit.n_inputs, circuit.n_weights)
        noise = build_noise_spec(self.profile, placement.physical, self.options.noise_scale)
        timing = schedule(program, self.profile.single_gate_ns, self.profile.cz_gate_ns)
        return WukongProgram(circuit, program, placement, noise, timing)

    def noise_bound(self, compiled: WukongProgram) -> NoiseBound | None:
        """From the calibrated channels the engine applies to the placed program (`qwthn_wukong.bound`).

        None on the cloud: a calibration models the chip, it does not bound what the chip does.
        """
        if self.options.simulator == "origin-cloud" or self.options.noise_scale == 0:
            return None
        from qwthn_wukong.bound import noise_bound

        mitigated = self.options.mitigation == "readout"
        return noise_bound(compiled.native, compiled.noise, compiled.placement.final, mitigated=mitigated)

    def estimate_seconds(self, compiled: WukongProgram, rows: int, shots: int | None) -> float | None:
        """Chip time of `rows` circuits: shots x (scheduled gate time + readout_ns); queueing and compilation excluded.

        The chip only samples, so an exact evaluation has no chip-time equivalent (None).
        """
        if shots is None:
            return None
        return rows * shots * (compiled.schedule.duration_ns + self.options.readout_ns) * 1e-9

    def evaluate(self, compiled: WukongProgram, inputs, weights, *, shots=None, seed=None) -> torch.Tensor:
        from qwthn_wukong import engine

        if self.options.simulator == "origin-cloud":
            return self.submit(compiled, inputs, weights, shots=shots, seed=seed).result()
        inputs = torch.as_tensor(inputs, dtype=torch.float64)
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if self.options.simulator == "pyqpanda3":
            probs = _pyqpanda3_probabilities(compiled, inputs, weights, shots)
        else:
            probs = engine.noisy_probabilities(compiled.native, inputs, weights, compiled.noise)
            if shots is not None:
                probs = engine.sample_probabilities(probs, shots, seed)
        return self.finish(probs, compiled)

    def finish(self, probs: torch.Tensor, compiled: WukongProgram) -> torch.Tensor:
        """Slot probabilities -> the circuit's read-out: mitigation, the logical permutation, <Z> or probs."""
        from qwthn_wukong import engine

        if self.options.mitigation == "readout":
            probs = engine.mitigate_readout(probs, compiled.noise)
        return readout(probs.to(torch.float64), compiled.source, compiled.placement.final)


class _FinishedOnRead:
    """A cloud job whose probabilities get the backend's post-processing when they are read."""

    def __init__(self, job: Any, backend: WukongBackend, compiled: WukongProgram) -> None:
        self.job, self.backend, self.compiled = job, backend, compiled

    def result(self, timeout: float | None = None) -> torch.Tensor:
        return self.backend.finish(self.job.result(timeout), self.compiled)


def _pyqpanda3_probabilities(
    compiled: WukongProgram, inputs: torch.Tensor, weights: torch.Tensor, shots: int | None
) -> torch.Tensor:
    """The same program and noise on Origin's SDK: exact density matrix, or CPUQVM shots (pyqpanda3 has no seed)."""
    from qwthn_wukong.origin import local

    if shots is None:
        values = local.exact_local(compiled.native, inputs, weights, compiled.noise)
    else:
        values = local.run_local(compiled.native, inputs, weights, compiled.noise, shots=shots)
    return torch.as_tensor(values, dtype=torch.float64)


def logical_probs(probs: torch.Tensor, final: tuple[int, ...]) -> torch.Tensor:
    """[B, 2^n] over slots (big-endian) -> [B, 2^n] over logical wires, wire w having ended on slot final[w]."""
    n = len(final)
    if tuple(final) == tuple(range(n)):
        return probs
    batch = probs.shape[0]
    tensor = probs.reshape(batch, *([2] * n))
    return tensor.permute(0, *[1 + final[w] for w in range(n)]).reshape(batch, -1)


def readout(probs: torch.Tensor, circuit: Circuit, final: tuple[int, ...]) -> torch.Tensor:
    probs = logical_probs(probs, final)
    if circuit.readout.kind == "probs":
        return probs
    n = circuit.n_qubits
    tensor = probs.reshape(probs.shape[0], *([2] * n))
    signs = torch.tensor([1.0, -1.0], dtype=probs.dtype)
    values = []
    for wire in circuit.readout.wires:
        marginal = tensor.sum(dim=[1 + w for w in range(n) if w != wire]) if n > 1 else tensor
        values.append(marginal @ signs)
    return torch.stack(values, dim=1)
