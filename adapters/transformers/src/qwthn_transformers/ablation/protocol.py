"""The tuning protocol: which learning rates an arm is tried at, which one it is reported at, and when a run diverged.

Why it exists: a verdict between adapters is only as good as the learning rate each one got. An
arm tried only at rates far above its working region "loses" for a reason that has nothing to do
with the method (the first reports of this project did exactly that to the authors' architecture).
So every arm gets:

- the same **budget** of tuning runs (`RateSearch.budget`), one seed each, on the validation split;
- an initial log-spaced grid of `points` rates spanning `decades` decades centred on its recipe rate;
- the rest of the budget spent by one fixed rule: while the best rate sits at an edge of what was
  tried, the grid is extended one step on that side; otherwise the best rate is refined halfway
  (geometrically) towards its better neighbour. An arm whose best rate is still at an edge when the
  budget is spent is flagged in the report, never silently reported as tuned.

A run that diverged (a non-finite value, an update that dwarfs the frozen layer's output, a loss
that ended above where it started or climbed back well above its best) is recorded as diverged at
its rate: excluded from the choice and shown as such, never averaged as a score. The choice reads
validation loss only: the test split never chooses anything (`choose` is given no test numbers to
read, and a test checks it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from qwthn.errors import QwthnError

RATIO_LIMIT = 100.0
"""A unit whose adapter update |ΔW x| exceeds this many times the frozen output |W x| in some layer diverged.

Two orders of magnitude: the layer's output is then the update's, and the pretrained weights no
longer matter. Not lower, because a large update is not by itself a failure: on the demo task (the
small model starts at a loss of 7.7 on it) every arm's best validation loss came at rates where its
update reached 3-15x, and a limit of 5x (this protocol's first) declared those runs diverged and had
the verdict decided by the limit, not by the methods. A run that grew large and fitted worse (the
authors' architecture at 5x its working rate on MiniLM reached 8-10x and only fitted the class prior)
needs no limit: its validation loss already keeps it from being chosen. The report shows which arm's
choice any other limit would change (`SENSITIVITY_LIMITS`).
"""
SENSITIVITY_LIMITS = (5.0, 20.0, RATIO_LIMIT, math.inf)
"""The ratio limits the report re-reads every arm's choice under, to show whether the limit decides it."""
LOSS_RISE_LIMIT = 1.2
"""A unit whose training loss (mean of its last 10% of steps) ends above this multiple of its first 10% diverged.

A margin above 1, so batch-to-batch noise of a run that merely did not move is not called divergence.
"""
RELAPSE_LIMIT = 1.5
"""A unit whose training loss ends above this multiple of its lowest (10%-of-steps window means) diverged.

It learned, then lost it: the failure a large update causes on a classifier (MiniLM's pooled
features collapse and the head falls back to the class prior) shows as a loss that climbs back
from its best, whatever the update's size. On the demo run no unit's loss ended 1.1x above its best.
"""
MIN_POINTS, MIN_DECADES = 5, 2.0
"""The protocol's floor: a grid narrower than this cannot protect a verdict against a mis-set recipe rate."""


@dataclass(frozen=True)
class RateSearch:
    """The rate search every arm gets alike: `points` rates over `decades` decades, then `extensions` more runs."""

    points: int = 5
    decades: float = 2.0
    extensions: int = 2

    @property
    def budget(self) -> int:
        """Tuning runs per arm (equal for every arm)."""
        return self.points + self.extensions

    @property
    def step(self) -> float:
        """The ratio between neighbouring rates of the initial grid (also one extension step)."""
        return 10 ** (self.decades / (self.points - 1))

    def check(self, smoke: bool = False) -> None:
        if self.points < 2:
            raise QwthnError(f"--grid-points must be at least 2, got {self.points}")
        if not self.decades > 0:
            raise QwthnError(f"--grid-decades must be positive, got {self.decades}")
        if self.extensions < 0:
            raise QwthnError(f"--grid-extensions must be 0 or more, got {self.extensions}")
        if not smoke and (self.points < MIN_POINTS or self.decades < MIN_DECADES):
            raise QwthnError(
                f"a rate grid of {self.points} points over {self.decades:g} decades is below the protocol's "
                f"minimum ({MIN_POINTS} points over {MIN_DECADES:g} decades); widen it: --grid-points, --grid-decades"
            )

    def initial(self, center: float) -> list[float]:
        """`points` rates, log-spaced, spanning `decades` decades centred on `center` (rounded to 3 figures)."""
        half = (self.points - 1) / 2
        return [_round(center * self.step ** (index - half)) for index in range(self.points)]

    def as_dict(self) -> dict:
        return asdict(self)


def _round(rate: float) -> float:
    """Three significant figures: rates are directory names and table entries, and must read back equal."""
    return float(f"{rate:.3g}")


@dataclass(frozen=True)
class Trial:
    """One tuning run, as the protocol sees it: its rate, its validation loss, and whether it diverged."""

    learning_rate: float
    validation_loss: float
    diverged: str | None = None


def _score(trial: Trial) -> float:
    if trial.diverged or not math.isfinite(trial.validation_loss):
        return math.inf
    return trial.validation_loss


def choose(trials: list[Trial]) -> Trial | None:
    """The trial with the lowest validation loss among those that did not diverge; None if all diverged."""
    usable = [trial for trial in trials if _score(trial) < math.inf]
    return min(usable, key=lambda trial: (trial.validation_loss, trial.learning_rate)) if usable else None


def position(trials: list[Trial]) -> str:
    """Where the chosen rate lies among the rates tried: 'inside', 'lowest tried', 'highest tried' or 'none'."""
    best = choose(trials)
    if best is None:
        return "none"
    rates = sorted(trial.learning_rate for trial in trials)
    if len(rates) > 1 and best.learning_rate == rates[0]:
        return "lowest tried"
    if len(rates) > 1 and best.learning_rate == rates[-1]:
        return "highest tried"
    return "inside"


def next_rates(search: RateSearch, center: float, trials: list[Trial]) -> list[float]:
    """The rates to run next for one arm: the missing initial grid, else one more by the rule, else none."""
    tried = {trial.learning_rate for trial in trials}
    missing = [rate for rate in search.initial(center) if rate not in tried]
    if missing:
        return missing
    if len(trials) >= search.budget:
        return []
    rates = sorted(tried)
    best = choose(trials)
    if best is None:  # every rate diverged: go lower
        return [_round(rates[0] / search.step)]
    where = position(trials)
    if where == "lowest tried":
        return [_round(rates[0] / search.step)]
    if where == "highest tried":
        return [_round(rates[-1] * search.step)]
    return [_refine(best, sorted(trials, key=lambda trial: trial.learning_rate), tried)]


def _refine(best: Trial, ordered: list[Trial], tried: set[float]) -> float:
    """Halfway (geometrically) from the best rate towards its better neighbour; the other side if that was tried."""
    index = next(i for i, trial in enumerate(ordered) if trial.learning_rate == best.learning_rate)
    sides = sorted((ordered[index - 1], ordered[index + 1]), key=_score)
    for side in sides:
        rate = _round(math.sqrt(best.learning_rate * side.learning_rate))
        if rate not in tried:
            return rate
    return _round(math.sqrt(best.learning_rate * math.sqrt(best.learning_rate * sides[0].learning_rate)))


def divergence(
    losses: list[float], max_ratio: float | None, nonfinite: str | None = None, ratio_limit: float = RATIO_LIMIT
) -> str | None:
    """Why a finished run counts as diverged (None: it trained), from its loss curve and update/frozen ratio."""
    if nonfinite:
        return nonfinite
    if max_ratio is not None and not max_ratio <= ratio_limit:
        return f"update reached {max_ratio:.1f}x the frozen layer's output (limit {ratio_limit:g}x)"
    if len(losses) >= 10:
        tail = len(losses) // 10
        windows = [sum(losses[i:i + tail]) / tail for i in range(0, len(losses) - tail + 1, tail)]
        start, end, best = windows[0], sum(losses[-tail:]) / tail, min(windows)
        if not end <= LOSS_RISE_LIMIT * start:
            return f"training loss ended {end / start:.2f}x where it started ({start:.3f} -> {end:.3f})"
        if not end <= RELAPSE_LIMIT * best:
            return f"training loss climbed back to {end / best:.2f}x its best ({best:.3f} -> {end:.3f})"
    return None


def relabel(result: dict, ratio_limit: float = RATIO_LIMIT) -> dict:
    """A stored unit's result with its divergence judged by today's rule (a resumed run may predate it).

    Only what a run recorded is re-read: its loss curve and largest ratio. A run that went non-finite
    (no validation loss) keeps its recorded reason.
    """
    if result.get("validation_loss") is None or not result.get("losses"):
        return result
    return {**result, "diverged": divergence(result["losses"], result.get("max_update_ratio"), None, ratio_limit)}


def choice_under(trials: list[Trial], ratios: list[float | None], ratio_limit: float) -> Trial | None:
    """The choice `choose` would make had the ratio limit been `ratio_limit` (other reasons kept as recorded)."""
    relabelled = []
    for trial, ratio in zip(trials, ratios, strict=True):
        ratio_only = bool(trial.diverged) and trial.diverged.startswith("update reached")
        excluded = (trial.diverged and not ratio_only) or (ratio is not None and not ratio <= ratio_limit)
        relabelled.append(Trial(trial.learning_rate, trial.validation_loss, "excluded" if excluded else None))
    return choose(relabelled)
