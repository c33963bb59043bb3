"""`qwthn dequantize ADAPTER OUT`: the same adapter with every circuit replaced by its exact Fourier series.

Reads and writes only adapter files (no base model is loaded). The result is checked before it is
written: on random angles, every dequantized layer must reproduce its circuit within `TOLERANCE`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from qwthn.errors import QwthnError
from qwthn.methods.dequantize import COEFFICIENTS_SUFFIX, WEIGHTS_SUFFIX, dequantize_state, sample_terms
from qwthn.model.persistence import (
    base_model_identity,
    base_model_name,
    read_adapter_config,
    read_adapter_weights,
    write_adapter,
)
from qwthn.runtime import QuantumLayer, Runtime, RuntimeConfig
from qwthn.runtime.fourier import FourierSeries
from qwthn.runtime.spectrum import SHARE, spectrum

TOLERANCE = 1e-5
CHECK_ROWS = 256


def _check(circuit, runtime: Runtime, weights: torch.Tensor, coefficients: torch.Tensor) -> float:
    """max |series - circuit| on random angles in [-2 pi, 2 pi], both in float64."""
    layer = QuantumLayer(circuit, runtime).double()
    series = FourierSeries(circuit).double()
    with torch.no_grad():
        layer.weights.copy_(weights)
        series.coefficients.copy_(coefficients)
        angles = (torch.rand(CHECK_ROWS, circuit.n_inputs, generator=torch.Generator().manual_seed(0),
                             dtype=torch.float64) * 2 - 1) * 2 * math.pi  # fmt: skip
        return float((series(angles) - layer(angles)).abs().max())


def dequantize_adapter(
    source: str | Path, output: str | Path, runtime: RuntimeConfig | None = None, *, keep_terms: int | None = None,
    seed: int = 0,
) -> dict:
    """Write the dequantized adapter of `source` to `output` (new or empty); returns what was done.

    With `keep_terms`, what is written is the random-Fourier-feature surrogate instead: each layer's series
    keeps its constant and `keep_terms` random other terms (`sample_terms`, seeded); the exact series is
    still built and checked first, and the surrogate's own distance from the circuit is reported.
    """
    source, output = Path(source), Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise QwthnError(f"output {output} already exists and is not an empty directory; pass a new OUT")
    config = read_adapter_config(source)
    state = read_adapter_weights(source)
    shared = Runtime.from_config(runtime)
    start = time.perf_counter()
    new_config, new_state = dequantize_state(config, state, shared)
    circuit = config.circuit()
    errors = [
        _check(circuit, shared, state[key], new_state[key.removesuffix(WEIGHTS_SUFFIX) + COEFFICIENTS_SUFFIX])
        for key in state
        if key.endswith(WEIGHTS_SUFFIX)
    ]
    worst = max(errors)
    if worst > TOLERANCE:
        raise QwthnError(
            f"the Fourier form differs from the circuit by {worst:.3g} (> {TOLERANCE:g}); the backend "
            f"'{shared.backend.name}' is not exact enough: use the emulator with dtype complex128"
        )
    frequencies = FourierSeries(circuit).frequencies
    meters = {key.removesuffix(COEFFICIENTS_SUFFIX): spectrum(value, frequencies).as_dict()
              for key, value in new_state.items() if key.endswith(COEFFICIENTS_SUFFIX)}  # fmt: skip
    surrogate = {}
    if keep_terms is not None:
        new_state = {key: sample_terms(value, keep_terms, seed) if key.endswith(COEFFICIENTS_SUFFIX) else value
                     for key, value in new_state.items()}  # fmt: skip
        distance = max(_check(circuit, shared, state[key], new_state[key.removesuffix(WEIGHTS_SUFFIX)
                                                                     + COEFFICIENTS_SUFFIX])
                       for key in state if key.endswith(WEIGHTS_SUFFIX))  # fmt: skip
        surrogate = {"kept_terms": keep_terms + 1, "surrogate_max_abs_difference": distance}
    write_adapter(output, new_config, new_state, base_model_name(source), base_model_identity(source))

    def size(tensors: dict[str, torch.Tensor]) -> int:
        """Parameters, a surrogate's series counted by the terms it keeps (the rest are zeros by construction)."""
        kept = lambda key, t: (keep_terms + 1) * t.shape[-1] if keep_terms is not None and key.endswith(  # noqa: E731
            COEFFICIENTS_SUFFIX) else t.numel()
        return sum(kept(key, t) for key, t in tensors.items())

    return {
        **surrogate,
        "source": str(source),
        "output": str(output),
        "method": config.method,
        "layers": len(errors),
        "terms_per_output": math.prod(2 * r + 1 for r in FourierSeries(circuit).frequencies),
        "parameters_before": size(state),
        "parameters_after": size(new_state),
        "max_abs_difference": worst,
        "seconds": round(time.perf_counter() - start, 3),
        "spectrum": meters,
        "spectrum_summary": summarise_spectra(meters),
    }


def summarise_spectra(meters: dict[str, dict]) -> dict:
    """The most demanding layer's figures: what a classical series needs to carry 99% of every read-out."""
    return {
        "share": SHARE,
        "terms": max(m["terms"] for m in meters.values()),
        "terms_for_share": max(m["terms_for_share"] for m in meters.values()),
        "max_order": max(m["max_order"] for m in meters.values()),
        "full_order": max(m["full_order"] for m in meters.values()),
    }


def spectrum_line(summary: dict) -> str:
    """One sentence on the meter, and what it implies for evaluating the trained circuits classically."""
    return (f"at most {summary['terms_for_share']} of {summary['terms']} Fourier terms carry "
            f"{summary['share']:.0%} of any read-out's variance, up to order {summary['max_order']} of "
            f"{summary['full_order']}: a classical series of that many terms per read-out reproduces the trained "
            "circuits to that share")  # fmt: skip
