"""Choosing a model on the validation block: its next-day errors there, in prices, and
the rule of forecast.model = best (with forecast.significance).

Never the test split, which would make the test score optimistic. Light on imports: each
backtest fold records its validation errors through it.
"""

import numpy as np
import pandas as pd

from seqcast.errors import SeqcastError
from seqcast.models import Forecaster
from seqcast.prep.preprocessing import Preprocessing
from seqcast.prep.windows import Windows

SELECTED_BY = "lowest validation RMSE"


def validation_errors(
    model: Forecaster, val: Windows, table: pd.DataFrame, prep: Preprocessing
) -> np.ndarray:
    """Forecast minus actual, in prices, of the model's next-day forecasts on the
    validation windows, in date order; none without a validation block (split.val = 0)."""
    if not len(val):
        return np.empty(0)
    predicted = prep.predict_prices(model, val, table[prep.target])
    target_dates = val.target_dates if val.target_dates.ndim == 1 else val.target_dates[:, 0]
    predicted = predicted if predicted.ndim == 1 else predicted[:, 0]
    actual = table.loc[pd.DatetimeIndex(target_dates), prep.target].to_numpy()
    return predicted - actual


def root_mean_square(errors: np.ndarray) -> float:
    """The RMSE of these errors; NaN for none (no validation block)."""
    return float(np.sqrt(np.mean(errors**2))) if len(errors) else float("nan")


def validation_rmse(
    model: Forecaster, val: Windows, table: pd.DataFrame, prep: Preprocessing
) -> float:
    """RMSE in price units of the model's next-day forecasts on the validation windows."""
    return root_mean_square(validation_errors(model, val, table, prep))


def p_better_than_naive(errors: dict[str, np.ndarray]) -> dict[str, float]:
    """Each model's one-sided Diebold-Mariano p-value of "lower squared error than naive"
    on the same validation days, Holm-adjusted across the models tested, as the report's
    verdicts are: with four models, one of them beats naive at a raw p < 0.05 by chance
    alone far more often than one time in twenty. {} when naive is not among them."""
    if "naive" not in errors:
        return {}
    from seqcast.scoring.significance import (  # scipy: only when choosing
        diebold_mariano,
        holm_adjust,
    )

    naive = errors["naive"] ** 2
    return holm_adjust(
        {n: diebold_mariano(e**2, naive).p_better for n, e in errors.items() if n != "naive"}
    )


def choose_model(
    choice: str,
    scores: dict[str, float],
    p_better: dict[str, float] | None = None,
    significance: float | None = None,
) -> str:
    """`choice` itself, or with "best" the lowest validation RMSE (ties: the first listed).

    With `significance`, "best" chooses only among naive and the models that beat naive on
    validation with p_better (Holm-adjusted: p_better_than_naive) below it: a model that
    merely looks better than naive by chance on the validation days (as every model does
    half the time on a random walk) is not chosen over it."""
    if choice == "best":
        if significance is not None and p_better:
            scores = {
                name: score
                for name, score in scores.items()
                if name == "naive" or p_better.get(name, np.nan) < significance
            }
        return min(scores, key=scores.__getitem__)
    if choice not in scores:
        raise SeqcastError(f"forecast.model = {choice!r}: choose 'best' or one of {list(scores)}")
    return choice
