"""The `cirq` backend's options, validated by the core before the backend is built.

Cirq is imported only inside validators that need it (a `noise_model`, `simulator='qsim'`),
so `qwthn backends` can list this plugin without paying Cirq's import time.
Every inconsistent combination is refused here, as one `OptionsError` line naming the option,
rather than later in the middle of a run.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_serializer, field_validator

Simulator = Literal["auto", "statevector", "density_matrix", "qsim"]
Dtype = Literal["complex64", "complex128"]

MAX_QUBITS: dict[str, int] = {"statevector": 20, "density_matrix": 10, "qsim": 24}
"""Largest circuit per simulator: a 2^n state (2^2n for a density matrix) per row, simulated row by row."""

QSIM_EXTRA = "pip install 'qwthn-cirq[qsim]'"


def qsim_available() -> bool:
    """Whether qsimcirq imports (it is an optional extra)."""
    try:
        import qsimcirq  # noqa: F401
    except ImportError:
        return False
    return True


class CirqOptions(BaseModel):
    """Which Cirq simulator runs the circuits, in which precision, with which noise.

    `simulator`: "auto" (default) picks "density_matrix" when noise is set, else "statevector"
    (`cirq.Simulator`). "qsim" is `qsimcirq.QSimSimulator` (extra `qwthn-cirq[qsim]`; complex64 only).
    `dtype`: amplitude precision of the Cirq simulators; default complex128 (qsim: complex64).
    `depolarizing`: after every gate, `cirq.depolarize(p, k)` on the gate's k qubits (Cirq's
    convention: (1-p) rho + p/(4^k-1) sum of the non-identity Paulis; Aer's lambda is 4p/3 for k=1).
    `noise_model`: a `cirq.NoiseModel` (or anything `cirq.NoiseModel.from_noise_model_like` takes,
    e.g. `cirq.amplitude_damp(0.01)`, or the JSON text `cirq.to_json` writes), written into the
    compiled programs after `depolarizing`, as the density-matrix simulator would apply it (translate.py).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    simulator: Simulator = Field(
        default="auto",
        description="'statevector' (cirq.Simulator), 'density_matrix' (exact with noise), 'qsim' (qsimcirq); "
        "'auto': density_matrix when noise is set, else statevector",
    )
    dtype: Dtype | None = Field(
        default=None, description="amplitude precision; default complex128 (qsim runs complex64 only)"
    )
    depolarizing: float = Field(
        default=0.0, ge=0.0, le=1.0, description="cirq.depolarize(p) on its qubits after every gate (0: none)"
    )
    noise_model: Any = Field(
        default=None,
        description="a cirq.NoiseModel (or noise-model-like, or its cirq.to_json text) for the density-matrix "
        "simulator",
    )
    qsim_threads: int = Field(default=1, ge=1, description="CPU threads of qsim (simulator='qsim' only)")
    max_batch: int | None = Field(
        default=None, ge=1, description="most rows per parameter sweep (None: the whole batch in one sweep)"
    )

    @field_validator("simulator")
    @classmethod
    def _simulator_installed(cls, value: str) -> str:
        if value == "qsim" and not qsim_available():
            raise ValueError(f"'qsim' needs qsimcirq, which is not installed: {QSIM_EXTRA}")
        return value

    @field_validator("dtype")
    @classmethod
    def _dtype_supported(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value == "complex128" and info.data.get("simulator") == "qsim":
            raise ValueError("simulator 'qsim' runs in complex64 only; leave dtype unset or pick 'statevector'")
        return value

    @field_validator("depolarizing")
    @classmethod
    def _depolarizing_exact(cls, value: float, info: ValidationInfo) -> float:
        if value > 0:
            _check_noise_simulator(info)
        return value

    @field_validator("noise_model", mode="before")
    @classmethod
    def _noise_model(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        import cirq

        if isinstance(value, str):
            try:
                value = cirq.read_json(json_text=value)
            except Exception as error:  # cirq raises several types for bad JSON
                raise ValueError(f"text is not a noise model in cirq.to_json form ({type(error).__name__})") from None
        try:
            model = cirq.NoiseModel.from_noise_model_like(value)
        except (TypeError, ValueError):
            raise ValueError(
                "must be a cirq.NoiseModel, a one-qubit cirq channel/gate, a list of operations, or cirq.to_json text"
            ) from None
        if model is cirq.NO_NOISE:
            return None
        _check_noise_simulator(info)
        return model

    @field_validator("qsim_threads")
    @classmethod
    def _threads_for_qsim(cls, value: int, info: ValidationInfo) -> int:
        if value != 1 and info.data.get("simulator") != "qsim":
            raise ValueError("applies only to simulator 'qsim'")
        return value

    @field_serializer("noise_model", when_used="json")
    def _noise_model_json(self, model: Any) -> str | None:
        """JSON dumps carry the model as `cirq.to_json` text, which this field reads back."""
        if model is None:
            return None
        import cirq

        return cirq.to_json(model)

    @property
    def noisy(self) -> bool:
        return self.depolarizing > 0 or self.noise_model is not None

    @property
    def kind(self) -> Literal["statevector", "density_matrix", "qsim"]:
        """The simulator that runs: `simulator`, with "auto" resolved."""
        if self.simulator == "auto":
            return "density_matrix" if self.noisy else "statevector"
        return self.simulator

    @property
    def numpy_dtype(self) -> str:
        return self.dtype or ("complex64" if self.kind == "qsim" else "complex128")


def _check_noise_simulator(info: ValidationInfo) -> None:
    simulator = info.data.get("simulator", "auto")
    if simulator in ("statevector", "qsim"):
        raise ValueError(
            f"noise is exact only with simulator 'density_matrix' (or 'auto'); simulator '{simulator}' would "
            "sample noise trajectories"
        )
