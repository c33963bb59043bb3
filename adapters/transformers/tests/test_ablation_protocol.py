"""The tuning protocol on synthetic validation curves: equal budgets, grid extension, refinement, divergence."""

from __future__ import annotations

import math

import pytest

from qwthn.errors import QwthnError
from qwthn_transformers.ablation.protocol import (
    RATIO_LIMIT,
    RateSearch,
    Trial,
    choice_under,
    choose,
    divergence,
    next_rates,
    position,
    relabel,
)


def run_search(search: RateSearch, center: float, curve) -> list[Trial]:
    """Drive the protocol to the end against `curve(rate) -> (validation loss, diverged reason or None)`."""
    trials: list[Trial] = []
    while rates := next_rates(search, center, trials):
        trials += [Trial(rate, *curve(rate)) for rate in rates]
    return trials


def bowl(best: float, diverge_above: float = math.inf):
    """A validation loss with its minimum at `best` (log scale); runs above `diverge_above` diverge."""
    def curve(rate: float):
        if rate > diverge_above:
            return math.inf, "update reached 9.0x the frozen layer's output"
        return 1.0 + math.log10(rate / best) ** 2, None

    return curve


def test_the_initial_grid_spans_the_decades_around_the_recipe_rate_and_holds_the_authors_rates():
    grid = RateSearch().initial(5e-4)
    assert len(grid) == 5 and grid[2] == 5e-4
    assert grid[-1] / grid[0] == pytest.approx(100, rel=1e-2)
    assert 5e-5 in grid  # the authors' published scripts' rate is tried, not only their default


@pytest.mark.parametrize("best", [1e-5, 3e-4, 2e-2, 0.5])
def test_every_arm_gets_the_same_number_of_runs_wherever_its_best_rate_lies(best):
    search = RateSearch()
    trials = run_search(search, 5e-4, bowl(best))
    assert len(trials) == search.budget
    assert len({t.learning_rate for t in trials}) == search.budget  # no rate is run twice


def test_a_best_rate_below_the_grid_extends_the_grid_downwards_until_it_is_inside():
    search = RateSearch(points=5, decades=2, extensions=3)
    trials = run_search(search, 1e-2, bowl(3e-4))  # the recipe rate is 30x too high
    chosen = choose(trials)
    assert min(search.initial(1e-2)) == 1e-3
    assert chosen.learning_rate < 1e-3  # found outside the initial grid
    assert position(trials) == "inside"


def test_a_best_rate_past_every_extension_is_flagged_at_the_edge():
    trials = run_search(RateSearch(points=5, decades=2, extensions=1), 1e-2, bowl(1e-6))
    assert position(trials) == "lowest tried"


def test_inside_the_grid_the_spare_runs_refine_towards_the_better_neighbour():
    search = RateSearch(points=5, decades=2, extensions=2)
    trials = run_search(search, 1e-3, bowl(1.8e-3))
    grid = set(search.initial(1e-3))
    extra = sorted(t.learning_rate for t in trials if t.learning_rate not in grid)
    assert all(1e-3 < rate < 3.17e-3 for rate in extra), extra  # between the best grid rate and its better side
    assert choose(trials).learning_rate in extra


def test_diverged_runs_are_never_chosen_and_a_search_that_diverges_everywhere_goes_lower():
    trials = [Trial(1e-2, 0.1, "update reached 9x"), Trial(1e-3, 0.5), Trial(1e-4, 0.7)]
    assert choose(trials).learning_rate == 1e-3  # the lower loss of the diverged run does not count
    everywhere = run_search(RateSearch(points=5, decades=2, extensions=2), 1e-2, bowl(1e-4, diverge_above=0))
    assert choose(everywhere) is None
    assert min(t.learning_rate for t in everywhere) < 1e-3


def test_the_choice_reads_validation_loss_only():
    """Trials carry no test numbers at all: the protocol cannot be steered by the test split."""
    assert set(Trial.__dataclass_fields__) == {"learning_rate", "validation_loss", "diverged"}


def test_divergence_reasons():
    falling = [2.0 - 0.1 * i for i in range(20)]
    assert divergence(falling, 0.3) is None
    assert "frozen layer's output" in divergence(falling, RATIO_LIMIT * 2)
    assert "where it started" in divergence([1.0] * 10 + [1.5] * 10, 0.3)
    assert divergence([1.0] * 10 + [1.1] * 10, 0.3) is None  # noise, not divergence
    assert divergence([1.0, 9.0, 9.0], 0.3) is None  # too few steps to judge a trend
    assert divergence(falling, None, "the loss (nan)") == "the loss (nan)"
    assert divergence(falling, float("nan")) is not None  # a NaN ratio is not "within the limit"
    relapse = [2.0 - 0.15 * i for i in range(10)] + [1.9] * 10  # learned down to 0.65, ended at 1.9
    assert "its best" in divergence(relapse, 0.3)
    assert divergence([2.0 - 0.05 * i for i in range(10)] + [1.6] * 10, 0.3) is None  # 1.6 of a best 1.55: noise



def test_a_large_update_that_fits_best_is_not_called_diverged():
    """The demo's finding: every arm's best validation loss came with an update 3-15x the frozen output.
    The limit is for updates that replaced the layer by orders of magnitude, not for large fits."""
    falling = [2.0 - 0.1 * i for i in range(20)]
    assert divergence(falling, 15.0) is None
    assert divergence(falling, 15.0, ratio_limit=5.0) is not None  # the first protocol's limit called it diverged
    assert RATIO_LIMIT >= 50


def test_stored_results_are_judged_by_the_current_rule_when_a_run_resumes():
    falling = [2.0 - 0.1 * i for i in range(20)]
    old = {"losses": falling, "validation_loss": 0.6, "max_update_ratio": 14.1,
           "diverged": "update reached 14.1x the frozen layer's output (limit 5x)"}  # fmt: skip
    assert relabel(old)["diverged"] is None
    assert relabel({**old, "max_update_ratio": 841134.9})["diverged"].startswith("update reached 841134.9x")
    nonfinite = {"losses": [], "validation_loss": None, "max_update_ratio": None, "diverged": "the loss (nan)"}
    assert relabel(nonfinite) == nonfinite  # nothing to re-read: its recorded reason stands


def test_the_choice_under_another_ratio_limit_reads_only_the_ratio():
    """What the report's sensitivity line computes: a lower limit excludes the large-update run, no limit
    readmits a ratio-diverged run, and a run that diverged for another reason stays out under every limit."""
    trials = [Trial(1e-3, 0.9), Trial(1e-2, 0.6), Trial(1e-1, 0.5, "update reached 500.0x the frozen layer's"),
              Trial(1.0, 0.1, "training loss ended 1.50x where it started")]  # fmt: skip
    ratios = [2.0, 15.0, 500.0, 3.0]
    assert choice_under(trials, ratios, RATIO_LIMIT).learning_rate == 1e-2
    assert choice_under(trials, ratios, 5.0).learning_rate == 1e-3
    assert choice_under(trials, ratios, math.inf).learning_rate == 1e-1

@pytest.mark.parametrize(
    "search, smoke, fragment",
    [
        (RateSearch(points=3), False, "below the protocol's minimum"),
        (RateSearch(decades=1), False, "below the protocol's minimum"),
        (RateSearch(points=1), True, "--grid-points must be at least 2"),
        (RateSearch(decades=0), True, "--grid-decades must be positive"),
        (RateSearch(extensions=-1), True, "--grid-extensions must be 0 or more"),
    ],
)
def test_grids_too_narrow_to_protect_a_verdict_are_refused(search, smoke, fragment):
    with pytest.raises(QwthnError, match=fragment):
        search.check(smoke=smoke)
