"""The local simulators qwthn runs: the SDK's own, with shot sampling that follows a seed.

The SDK's `StateVectorSimulation` and `DensityMatrixSimulation` draw their samples from
`np.random.default_rng()` created per simulation, and neither `LocalSimulator.run` nor the
simulator takes a seed (checked in default-simulator 1.41.2). `LocalSimulator` accepts a
simulator instance, so these subclasses give each simulation a generator spawned from a
`SeedSequence` set by `reseed(seed)` before a run: the samples are still the SDK's own
(`searchsorted` over its probabilities), and the same seed gives the same shots. This relies
on the private `_rng_generator` attribute; if a later SDK renames it, `initialize_simulation`
raises instead of silently ignoring the seed.

They also compute their (constant) `properties` once: the SDK rebuilds and re-validates
that pydantic model on every access, three times per circuit, about a third of a small
circuit's run time.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from braket.default_simulator import DensityMatrixSimulator, StateVectorSimulator


class Seeded:
    """Mixin for a default-simulator class: every simulation samples from the next child of one seed."""

    _sequence: np.random.SeedSequence | None = None

    def reseed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Seed the simulations that follow (None: fresh OS entropy, as the SDK does)."""
        self._sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)

    def initialize_simulation(self, **kwargs):
        simulation = super().initialize_simulation(**kwargs)
        if not hasattr(simulation, "_rng_generator"):
            raise RuntimeError(
                f"braket: {type(simulation).__name__} has no _rng_generator in this SDK version, so shots cannot be "
                "seeded; qwthn-braket needs an update"
            )
        if self._sequence is None:
            self._sequence = np.random.SeedSequence()
        (child,) = self._sequence.spawn(1)
        simulation._rng_generator = np.random.default_rng(child)
        return simulation


class SeededStateVectorSimulator(Seeded, StateVectorSimulator):
    """`braket_sv` with seeded sampling."""

    properties = cached_property(StateVectorSimulator.properties.fget)


class SeededDensityMatrixSimulator(Seeded, DensityMatrixSimulator):
    """`braket_dm` with seeded sampling."""

    properties = cached_property(DensityMatrixSimulator.properties.fget)


SEEDED_SIMULATORS = {"braket_sv": SeededStateVectorSimulator, "braket_dm": SeededDensityMatrixSimulator}
