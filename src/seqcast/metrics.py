"""Point-forecast error metrics, in the units of the series (prices, not scaled values)."""

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


def forecast_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, y_naive: np.ndarray, scale: float
) -> dict[str, float]:
    model_rmse = rmse(y_true, y_pred)
    model_skill = skill(model_rmse, rmse(y_true, y_naive))
    # The naive model's prices, scaled and unscaled, can differ from the naive forecast in
    # the last digit: its skill is exactly 0, not the residue of two RMSEs that differ so.
    as_naive = bool(np.all(np.abs(y_pred - y_naive) <= NO_CHANGE * np.abs(y_naive)))
    return {
        "mae": mae(y_true, y_pred),
        "rmse": model_rmse,
        "mape": mape(y_true, y_pred),
        "r2": r2(y_true, y_pred),
        "mase": mase(y_true, y_pred, scale),
        "skill_vs_naive": 0.0 if as_naive else model_skill,
        # The naive forecast is the price at the origin: the anchor of each change.
        "directional_accuracy": directional_accuracy(y_true, y_pred, y_naive),
    }
