"""Point-forecast error metrics, in the units of the series (prices, not scaled values).

`METRICS` is the one table of them: a new metric is one row there, and the report's
columns, the metric gate's default rules and its Diebold-Mariano losses follow from it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from seqcast.errors import SeqcastError


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute percentage error, in percent."""
    return float(100 * np.mean(np.abs((y_true - y_pred) / y_true)))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - np.mean(y_true)) ** 2)
    return float(1 - residual / total)


def naive_scale(train_series: np.ndarray) -> float:
    """In-sample MAE of the one-step naive forecast on the training series: MASE's scale."""
    return float(np.mean(np.abs(np.diff(train_series))))


def mase(y_true: np.ndarray, y_pred: np.ndarray, scale: float) -> float:
    if scale == 0:
        raise SeqcastError("the training series is constant: MASE (MAE / naive MAE) is undefined")
    return mae(y_true, y_pred) / scale


def skill(model_rmse: float, naive_rmse: float) -> float:
    """1 - RMSE / RMSE_naive: above 0 beats the naive forecast, 1 is perfect."""
    if naive_rmse == 0:
        raise SeqcastError("the naive forecast is exact on the test split: skill is undefined")
    return 1 - model_rmse / naive_rmse


# A change smaller than this share of the price is rounding noise (scaling a price and
# back does not always return the same last digit), not a move in either direction.
NO_CHANGE = 1e-9


def _direction(change: np.ndarray, origin: np.ndarray) -> np.ndarray:
    return np.where(np.abs(change) <= NO_CHANGE * np.abs(origin), 0.0, np.sign(change))


def directional_accuracy(y_true: np.ndarray, y_pred: np.ndarray, y_origin: np.ndarray) -> float:
    """Share of forecasts whose change from the origin has the sign of the actual change.

    A forecast of no change has sign 0: it counts as right only when the price did not
    move, so the naive forecast scores the share of days without a move.
    """
    predicted = _direction(y_pred - y_origin, y_origin)
    return float(np.mean(predicted == _direction(y_true - y_origin, y_origin)))


def squared_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return (np.asarray(actual, dtype="float64") - np.asarray(predicted, dtype="float64")) ** 2


def absolute_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(actual, dtype="float64") - np.asarray(predicted, dtype="float64"))


def absolute_percentage_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    return 100 * absolute_errors(actual, predicted) / np.abs(np.asarray(actual, dtype="float64"))


@dataclass(frozen=True)
class Forecasts:
    """What every metric reads: prices on the same targets, and MASE's training scale."""

    actual: np.ndarray
    predicted: np.ndarray
    naive: np.ndarray  # the price at each forecast's origin
    scale: float  # naive_scale of the training series


def _skill(f: Forecasts) -> float:
    value = skill(rmse(f.actual, f.predicted), rmse(f.actual, f.naive))
    # The naive model's prices, scaled and unscaled, can differ from the naive forecast in
    # the last digit: its skill is exactly 0, not the residue of two RMSEs that differ so.
    as_naive = np.all(np.abs(f.predicted - f.naive) <= NO_CHANGE * np.abs(f.naive))
    return 0.0 if as_naive else value


Loss = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One row of the metric table."""

    compute: Callable[[Forecasts], float]
    label: str  # the report's column header
    better: Literal["lower", "higher"]
    abs_tol: float = 0.0  # the metric gate's default rule (gate.metrics overrides it)
    rel_tol: float = 0.0
    # On fixed targets the metric is a monotone function of the mean of this loss per
    # target, which the gate's Diebold-Mariano test compares; None: no such loss.
    loss: Loss | None = None
    unbounded: bool = False  # an error metric: a change in percent of it means something


# In the order of metrics.json. Directional accuracy has no per-target loss here: it needs
# the forecast origins, which the gate's predictions.csv lacks.
METRICS: dict[str, Metric] = {
    "mae": Metric(
        lambda f: mae(f.actual, f.predicted),
        "MAE",
        "lower",
        rel_tol=0.01,
        loss=absolute_errors,
        unbounded=True,
    ),
    "rmse": Metric(
        lambda f: rmse(f.actual, f.predicted),
        "RMSE",
        "lower",
        rel_tol=0.01,
        loss=squared_errors,
        unbounded=True,
    ),
    "mape": Metric(
        lambda f: mape(f.actual, f.predicted),
        "MAPE %",
        "lower",
        rel_tol=0.01,
        loss=absolute_percentage_errors,
        unbounded=True,
    ),
    "r2": Metric(
        lambda f: r2(f.actual, f.predicted), "R²", "higher", abs_tol=0.005, loss=squared_errors
    ),
    "mase": Metric(
        lambda f: mase(f.actual, f.predicted, f.scale),
        "MASE",
        "lower",
        rel_tol=0.01,
        loss=absolute_errors,
        unbounded=True,
    ),
    "skill_vs_naive": Metric(_skill, "skill vs naive", "higher", abs_tol=0.01, loss=squared_errors),
    # The naive forecast is the price at the origin: the anchor of each change.
    "directional_accuracy": Metric(
        lambda f: directional_accuracy(f.actual, f.predicted, f.naive),
        "dir. acc.",
        "higher",
        abs_tol=0.01,
    ),
}
# The leaderboard ranks by it; the noise floor and backtest summaries speak of it.
RANKING_METRIC = "rmse"


def forecast_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, y_naive: np.ndarray, scale: float
) -> dict[str, float]:
    """Every metric of METRICS, in its order."""
    forecasts = Forecasts(y_true, y_pred, y_naive, scale)
    return {name: metric.compute(forecasts) for name, metric in METRICS.items()}


def rounded(metrics: dict[str, float], digits: int = 6) -> dict[str, float]:
    """Metrics to `digits` significant digits: what reports show and CI compares."""
    return {key: float(f"{value:.{digits}g}") for key, value in metrics.items()}
