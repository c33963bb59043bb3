"""Dry runs: count what a run would send to a backend without sending it.

The runtime chunks, seeds and counts exactly as in a real run, but each chunk is computed on this
machine by the core's NumPy reference simulator (exact, from the gate table) instead of being
submitted, so a run's control flow (e.g. how many tokens a model generates) follows exact values.
The values are returned in the target backend's qubit ordering, so the rest of the runtime cannot
tell the difference; shots are counted, not drawn.
"""

from __future__ import annotations

import numpy as np
import torch

from qwthn.contract.backend import CompletedJob
from qwthn.contract.circuit import Circuit
from qwthn.runtime import reference


def stand_in_job(circuit: Circuit, reorder: torch.Tensor | None, inputs: torch.Tensor, weights: torch.Tensor):
    """A finished job holding the exact read-outs of one chunk, ordered as the target backend would order them."""
    x = inputs.detach().cpu().double().numpy()
    w = weights.detach().cpu().double().numpy()
    values = torch.from_numpy(np.ascontiguousarray(reference.evaluate(circuit, x, w)))
    if reorder is not None:  # bit reversal is its own inverse: big-endian values in little-endian order
        values = values[:, reorder]
    return CompletedJob(values.to(inputs.device))
