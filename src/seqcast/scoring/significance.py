"""The Diebold-Mariano test: is one forecast's loss significantly lower than another's?

With the loss differential d_t = L(model error_t) - L(reference error_t), t = 1..n:

    d_bar   = mean(d)
    gamma_k = 1/n * sum_{t=k+1..n} (d_t - d_bar)(d_(t-k) - d_bar)
    V       = gamma_0 + 2 * sum_{k=1..h-1} gamma_k      (h-step forecasts overlap: h-1 lags)
    DM      = d_bar / sqrt(V / n)
    DM*     = DM * sqrt((n + 1 - 2h + h(h-1)/n) / n)   (Harvey, Leybourne & Newbold, 1997)

DM* is compared with Student's t with n - 1 degrees of freedom. A negative statistic means
the model's loss is the lower; `p_better` is the one-sided p-value of "the model is more
accurate than the reference", `p_value` the usual two-sided one. When V is not positive
(identical losses, or negative autocovariances outweighing the variance) the test is
undefined and both p-values are NaN.

Testing several models against the same reference makes a false "better" likelier than
any one test's level: `holm_adjust` corrects a family of p-values by Holm's step-down
method, so that rejecting every test whose adjusted p-value is below alpha holds the chance
of any false rejection in the family at alpha.
"""

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from seqcast.errors import SeqcastError
from seqcast.scoring.metrics import squared_errors


@dataclass(frozen=True)
class DieboldMariano:
    statistic: float  # DM*, HLN-corrected; < 0: the model's loss is lower
    p_value: float  # two-sided
    p_better: float  # one-sided: H1 "the model's expected loss is lower"
    n: int
    horizon: int
    mean_difference: float  # d_bar, in loss units

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: an undefined test's NaNs become null."""
        return {k: None if v != v else v for k, v in asdict(self).items()}


def autocovariance(d: np.ndarray, lag: int) -> float:
    """gamma_lag with the 1/n normalisation of the DM test."""
    deviation = d - d.mean()
    return float(np.sum(deviation[lag:] * deviation[: len(d) - lag]) / len(d))


def diebold_mariano(
    loss_model: np.ndarray, loss_reference: np.ndarray, horizon: int = 1
) -> DieboldMariano:
    """DM test of equal expected loss, for `horizon`-step-ahead forecasts of the same targets."""
    d = np.asarray(loss_model, dtype="float64") - np.asarray(loss_reference, dtype="float64")
    n = len(d)
    if horizon < 1 or n < horizon + 2:
        raise SeqcastError(
            f"the Diebold-Mariano test of {horizon}-step forecasts needs at least "
            f"{horizon + 2} targets; there are {n}"
        )
    variance = autocovariance(d, 0) + 2 * sum(autocovariance(d, k) for k in range(1, horizon))
    mean = float(d.mean())
    if variance <= 0:
        nan = float("nan")
        return DieboldMariano(nan, nan, nan, n, horizon, mean)
    dm = mean / np.sqrt(variance / n)
    correction = np.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    statistic = float(dm * correction)
    return DieboldMariano(
        statistic=statistic,
        p_value=float(2 * stats.t.sf(abs(statistic), df=n - 1)),
        p_better=float(stats.t.cdf(statistic, df=n - 1)),
        n=n,
        horizon=horizon,
        mean_difference=mean,
    )


def holm_adjust(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values of one family of tests, keyed like `p_values`.

    With the m defined p-values sorted, p_(1) <= ... <= p_(m), the i-th adjusted one is
    max_{j <= i} min(1, (m - j + 1) p_(j)): non-decreasing in p, never below the raw p.
    An undefined test (NaN) stays NaN and is not one of the m.
    """
    defined = sorted((p, name) for name, p in p_values.items() if not math.isnan(p))
    m = len(defined)
    adjusted = {name: math.nan for name in p_values}
    running = 0.0
    for i, (p, name) in enumerate(defined):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[name] = running
    return adjusted


def against_naive_by_step(predictions: pd.DataFrame) -> dict[int, DieboldMariano]:
    """DM test of a model's squared errors against the naive forecast's, per forecast step.

    `predictions`: one row per (origin, step) with actual, predicted and naive prices, as
    seqcast.forecasting.multistep.forecasts_by_step writes them. Step k is tested with k - 1 lags.
    """
    results = {}
    for step, rows in predictions.groupby("step", sort=True):
        rows = rows.sort_values("origin_date")
        results[int(step)] = diebold_mariano(
            squared_errors(rows["actual"], rows["predicted"]),
            squared_errors(rows["actual"], rows["naive"]),
            horizon=int(step),
        )
    return results
