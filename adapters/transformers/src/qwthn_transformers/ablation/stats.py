"""Paired comparisons over seeds: mean difference, its 95% interval, and the smallest difference detectable.

Seed k of two arms shares its data order and initialisation seed, so the per-seed differences are
paired; their spread is what decides. An outcome is 'better' or 'worse' only when the 95% t interval
of the mean paired difference excludes 0. The detectable difference is the one a two-sided 5% test
with these seeds would find 80% of the time, given the observed spread of the differences: a
comparison that finds nothing says "no difference detected (could detect >= X)", not "no gain".

Fewer than MIN_PAIRS pairs decide nothing: with two seeds a metric as coarse as test accuracy often
gives the same difference twice, a spread of 0 and an interval of zero width around a fluke.
The intervals cover seed-to-seed variation on one fixed test split, not that split's own sampling
error; the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_PAIRS = 3
"""Paired seeds a comparison needs before it can say 'better' or 'worse'."""

# fmt: off
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_T80 = (1.376, 1.061, 0.978, 0.941, 0.920, 0.906, 0.896, 0.889, 0.883, 0.879, 0.876, 0.873, 0.870, 0.868, 0.866,
        0.865, 0.863, 0.862, 0.861, 0.860, 0.859, 0.858, 0.858, 0.857, 0.856, 0.856, 0.855, 0.855, 0.854, 0.854)
# fmt: on
"""Student-t quantiles 0.975 and 0.80 for 1..30 degrees of freedom (the normal's beyond)."""


def t_quantile(df: int, upper_tail: float = 0.025) -> float:
    """The t quantile for the two-sided 95% interval (upper_tail 0.025) or for 80% power (0.2)."""
    table, normal = (_T975, 1.960) if upper_tail == 0.025 else (_T80, 0.842)
    return table[df - 1] if df <= len(table) else normal


@dataclass(frozen=True)
class Paired:
    """The mean of per-seed differences (arm - control), its 95% interval, and what could have been detected."""

    differences: tuple[float, ...]
    mean: float
    low: float
    high: float
    detectable: float
    """Smallest |mean difference| found with 80% power at these seeds and this spread (inf with < 2 seeds)."""

    @property
    def seeds(self) -> int:
        return len(self.differences)

    def outcome(self, higher_is_better: bool = True) -> str:
        """'better', 'worse', or 'undecided' (interval holds 0, or fewer than MIN_PAIRS seeds)."""
        if self.seeds < MIN_PAIRS:
            return "undecided"
        if self.low > 0 or self.high < 0:
            return "better" if (self.low > 0) == higher_is_better else "worse"
        return "undecided"

    def as_dict(self) -> dict:
        return {"differences": list(self.differences), "mean": self.mean, "low": self.low, "high": self.high,
                "detectable": self.detectable, "seeds": self.seeds}  # fmt: skip


def paired(arm: dict[int, float], control: dict[int, float]) -> Paired | None:
    """Pair the two arms' values by seed (seeds both have); None when they share none."""
    seeds = sorted(set(arm) & set(control))
    if not seeds:
        return None
    differences = tuple(arm[seed] - control[seed] for seed in seeds)
    n = len(differences)
    mean = sum(differences) / n
    if n < 2:
        return Paired(differences, mean, -math.inf, math.inf, math.inf)
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    error = sd / math.sqrt(n)
    half = t_quantile(n - 1) * error
    detectable = (t_quantile(n - 1) + t_quantile(n - 1, 0.2)) * error
    return Paired(differences, mean, mean - half, mean + half, detectable)
