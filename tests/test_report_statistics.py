"""Honest statistics in the comparison report: Holm-corrected verdicts, "worse than naive",
and exact zeros that print as 0."""

import numpy as np
import pandas as pd
import pytest

from seqcast.reporting.markdown import (
    comparison_markdown,
    leaderboard,
    per_step_section,
    seeds_section,
    verdict,
)
from seqcast.scoring import metrics
from seqcast.scoring.evaluation import mean_and_spread

NAN = float("nan")
CONTEXT = {
    "ticker": "TEST",
    "target": "close",
    "horizon": 1,
    "n_targets": 10,
    "experiment": "seqcast",
    **{f"{s}_{e}": "2024-01-01" for s in ("train", "val", "test") for e in ("start", "end")},
}


def _row(rmse: float, skill: float, p: float) -> dict[str, float]:
    return {
        "mae": rmse * 0.8,
        "rmse": rmse,
        "mape": 1.0,
        "r2": 0.9,
        "mase": 2.0,
        "skill_vs_naive": skill,
        "directional_accuracy": 0.5,
        "dm_statistic": 0.0,
        "dm_p_better": p,
    }


# Four models tested against naive; gru alone would pass at 0.05, but 4 x 0.048 = 0.192.
FOUR = {
    "naive": _row(1.0, 0.0, NAN),
    "gru": _row(0.95, 0.05, 0.048),
    "lstm": _row(0.99, 0.01, 0.2),
    "rnn": _row(1.01, -0.01, 0.6),
    "linear": _row(1.2, -0.2, 0.7),
}


def test_a_raw_p_of_0_048_among_four_models_is_not_announced_as_beating_naive():
    table = leaderboard(FOUR)
    assert table.loc["gru", "dm_p_better_holm"] == pytest.approx(0.192)
    text = verdict(table)
    assert text.startswith("**No model beats the naive forecast significantly**")
    assert "gives p < 0.05, Holm-adjusted across the 4 models tested." in text
    assert "gru passes p < 0.05 alone, but not once the p-value is corrected for testing 4 " in text
    assert "beat the naive forecast significantly**" not in text


def test_the_leaderboard_shows_the_holm_adjusted_p_beside_the_raw_one():
    markdown = comparison_markdown(FOUR, CONTEXT, {})
    assert "| DM | p (better than naive) | p (Holm) |" in markdown
    assert "| gru | 0.95 | 0.76 | 1 | 0.9 | 2 | 0.05 | 0.5 | 0 | 0.048 | 0.192 |" in markdown
    assert "| naive | 1 | 0.8 | 1 | 0.9 | 2 | 0 | 0.5 | 0 | n/a | n/a |" in markdown
    assert "adjusted by Holm's step-down method across the 4 models tested against naive" in (
        markdown
    )


def test_a_model_that_survives_the_correction_is_announced_with_both_p_values():
    table = leaderboard({**FOUR, "gru": _row(0.95, 0.05, 0.01)})
    text = verdict(table)
    assert text.startswith(
        "**1 of 4 models beat the naive forecast significantly** (Diebold-Mariano, p < 0.05, "
        "Holm-adjusted across the 4 models tested); the best, gru"
    )
    assert "p = 0.01, Holm-adjusted 0.04)" in text


def test_a_significantly_worse_model_is_named_beside_the_plain_verdict():
    # p(better) 0.9999: p(worse) 0.0001, x 4 = 0.0004. linear's 1 - 0.97 = 0.03 is not
    # significant once corrected (0.03 x 3 = 0.09).
    table = leaderboard({**FOUR, "rnn": _row(1.3, -0.3, 0.9999), "linear": _row(1.2, -0.2, 0.97)})
    text = verdict(table)
    assert text.startswith("**No model beats the naive forecast significantly**")
    assert text.endswith(
        'rnn is significantly worse than the naive forecast (Diebold-Mariano test of "less '
        'accurate than naive", Holm-adjusted across the 4 models tested: rnn p < 0.001).'
    )
    assert "linear" not in text


def test_nothing_is_called_worse_when_no_model_is():
    assert "worse" not in verdict(leaderboard(FOUR))


def test_per_step_verdicts_are_holm_corrected_on_each_day():
    models = ["naive", "gru", "lstm", "rnn", "linear"]
    rmse = pd.DataFrame({1: [1.0, 0.9, 1.0, 1.1, 1.2], 2: [1.5] * 5}, index=models)
    p = pd.DataFrame(
        {1: [NAN, 0.048, 0.2, 0.6, 0.7], 2: [NAN, 0.001, 0.5, 0.99999, 0.5]}, index=models
    )
    text = per_step_section(rmse, p)
    assert "| gru | 0.192 | 0.004 |" in text  # the p (Holm) table
    assert (
        "Significantly better than naive (Holm-adjusted p < 0.05 across the 4 models tested on "
        "each day): gru on day 2. Significantly worse than naive (the same correction of the "
        'p-value of "less accurate than naive"): rnn on day 2.'
    ) in text


@pytest.mark.parametrize("residue", [-2.220446049250313e-16, 4e-13, -0.0])
def test_floating_residue_prints_as_0(residue):
    markdown = comparison_markdown({**FOUR, "naive": _row(1.0, residue, NAN)}, CONTEXT, {})
    assert "| naive | 1 | 0.8 | 1 | 0.9 | 2 | 0 | 0.5 | 0 | n/a | n/a |" in markdown
    runs = {"7": {"rmse": 1.0, "skill_vs_naive": residue}}
    section = seeds_section({"naive": {"seeds": runs, **mean_and_spread(runs)}}, [7])
    assert "| naive | 1 ± 0 | 1 .. 1 | 0 ± 0 |" in section


def test_a_small_but_real_value_still_prints():
    markdown = comparison_markdown({**FOUR, "naive": _row(1.0, 3e-9, NAN)}, CONTEXT, {})
    assert "| 3e-09 |" in markdown


def test_naive_forecast_scaled_and_unscaled_has_skill_exactly_0():
    """Scaling the naive prices and back changes their last digit; 1 - RMSE / RMSE_naive of
    the result is then -2.2e-16, which the metrics must report as the 0 it is."""
    rng = np.random.default_rng(9)
    actual = 100 + rng.normal(0, 1, 50).cumsum()
    naive = np.r_[100.0, actual[:-1]]
    offset, scale = 37.25, 91.3
    round_trip = (naive - offset) / scale * scale + offset
    residue = metrics.skill(metrics.rmse(actual, round_trip), metrics.rmse(actual, naive))
    assert residue == pytest.approx(-2.220446049250313e-16, abs=0)  # the case at hand

    scored = metrics.forecast_metrics(actual, round_trip, naive, scale=1.0)
    assert scored["skill_vs_naive"] == 0.0
    assert scored["rmse"] == metrics.rmse(actual, round_trip)  # other metrics untouched
    better = np.where(np.arange(50) % 2 == 0, actual, naive)
    assert metrics.forecast_metrics(actual, better, naive, scale=1.0)["skill_vs_naive"] > 0.2
