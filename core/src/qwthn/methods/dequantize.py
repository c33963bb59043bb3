"""Dequantization: replace every trained circuit of an adapter by its exact Fourier series (`runtime/fourier.py`).

Works on the saved tensors alone: each layer's circuit is fixed by the config, its weights are in the
state dict, so no base model is needed. The result is the same adapter with `qnn_form="fourier"`:
it computes the same function and loads and runs with no quantum backend installed.
"""

from __future__ import annotations

import torch

from qwthn.errors import QwthnError
from qwthn.methods.base import AdapterConfig, CircuitAdapterConfig
from qwthn.runtime.executor import Runtime
from qwthn.runtime.fourier import series_from_values
from qwthn.runtime.quantum_layer import QuantumLayer

WEIGHTS_SUFFIX = ".qnn.weights"
COEFFICIENTS_SUFFIX = ".qnn.coefficients"


def dequantize_state(
    config: AdapterConfig, state: dict[str, torch.Tensor], runtime: Runtime
) -> tuple[CircuitAdapterConfig, dict[str, torch.Tensor]]:
    """(config with qnn_form 'fourier', state with each `*.qnn.weights` replaced by `*.qnn.coefficients`)."""
    circuit = config.circuit() if isinstance(config, CircuitAdapterConfig) else None
    if circuit is None:
        raise QwthnError(f"a {config.method} adapter runs no circuit; there is nothing to dequantize")
    if config.qnn_form not in ("circuit", "frozen"):
        raise QwthnError(f"this adapter's QNN is not a circuit (qnn_form '{config.qnn_form}'); nothing to dequantize")
    if runtime.shots is not None or not runtime.capabilities.exact or runtime.capabilities.supports_noise:
        raise QwthnError(
            f"dequantizing needs exact, noiseless values; backend '{runtime.backend.name}' with shots="
            f"{runtime.shots} is not: use the emulator (the default) without shots"
        )
    circuits = {key: value for key, value in state.items() if key.endswith(WEIGHTS_SUFFIX)}
    if not circuits:
        raise QwthnError(f"no '*{WEIGHTS_SUFFIX}' tensors in the adapter; the weights file does not fit its config")
    layer = QuantumLayer(circuit, runtime).double()
    result = {key: value for key, value in state.items() if key not in circuits}
    for key, weights in circuits.items():
        with torch.no_grad():
            layer.weights.copy_(weights)
            series = series_from_values(circuit, lambda points: layer(points).detach())
        coefficients = series.coefficients.detach().to(weights.dtype).contiguous()
        result[key.removesuffix(WEIGHTS_SUFFIX) + COEFFICIENTS_SUFFIX] = coefficients
    return config.model_copy(update={"qnn_form": "fourier"}), result


def sample_terms(coefficients: torch.Tensor, keep: int, seed: int = 0) -> torch.Tensor:
    """The series restricted to its constant term and `keep` others drawn uniformly at random (the same for every
    read-out), the rest set to zero: a random-Fourier-feature surrogate (Landman et al. 2022) of the circuit.

    The grid basis is orthogonal, so keeping the exact coefficients of the drawn terms is the least-squares fit
    of those features to the circuit's values on the grid: no refit is needed.
    """
    n_outputs = coefficients.shape[-1]
    flat = coefficients.reshape(-1, n_outputs)
    generator = torch.Generator().manual_seed(seed)
    drawn = torch.randperm(flat.shape[0] - 1, generator=generator)[:keep] + 1  # index 0 is the constant term
    mask = torch.zeros(flat.shape[0], 1, dtype=flat.dtype)
    mask[0], mask[drawn] = 1, 1
    return (flat * mask).reshape(coefficients.shape)
