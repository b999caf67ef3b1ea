"""Multi-step forecasts: recursive rollout of a model over its own predictions, dated targets.

A recursive forecast predicts one day (or one block of days, for a direct multi-output
model), appends the prediction to the price history, rebuilds the input window from the
extended history and predicts again. Every feature column is a function of the target
series alone (the price, its lags, rolling mean and std, the one-day return), so each can
be recomputed from a history that ends in predictions; a column that cannot is an error,
never a silently stale input.

The first step of a rollout reads the window exactly as the window stage stored it, so
that step 1 of a recursive forecast is the one-step forecast, digit for digit.
"""

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from seqcast.errors import SeqcastError
from seqcast.evaluation import predict_test
from seqcast.models import Forecaster
from seqcast.scaling import AffineScaler
from seqcast.transforms import TargetCoder
from seqcast.windows import Windows


def _column_kind(name: str, target: str) -> tuple[str, int]:
    """('level', 0), ('lag', k), ('rolling_mean', w), ('rolling_std', w) or ('return', 1)."""
    if name == target:
        return "level", 0
    match = re.fullmatch(rf"{re.escape(target)}_(lag|rolling_mean|rolling_std|return)_(\d+)", name)
    if match is None or (match[1] == "return" and match[2] != "1"):
        raise SeqcastError(
            f"feature column {name!r} is not a function of the {target!r} series alone, so a "
            "recursive forecast cannot rebuild it from predicted prices"
        )
    return match[1], int(match[2])


def history_needed(columns: Sequence[str], target: str) -> int:
    """Past prices a row of features reads besides its own day's (the feature warm-up)."""
    needs = {"level": 0, "lag": 0, "rolling_mean": -1, "rolling_std": -1, "return": 0}
    return max(size + needs[kind] for kind, size in (_column_kind(c, target) for c in columns))


def feature_windows(
    levels: np.ndarray, columns: Sequence[str], target: str, length: int
) -> np.ndarray:
    """Unscaled features of the last `length` days of each price history.

    levels: (n, m) prices, oldest first, with m >= length + history_needed(columns).
    Returns (n, length, n_features) with the same columns, in the same order, as the
    feature table (seqcast.features.make_features).
    """
    levels = np.asarray(levels, dtype="float64")
    n, m = levels.shape
    needed = length + history_needed(columns, target)
    if m < needed:
        raise SeqcastError(
            f"a window of {length} days with these features needs {needed} days of prices "
            f"before the forecast origin; only {m} are available"
        )
    start = m - length  # first row of the window
    out = np.empty((n, length, len(columns)))
    for j, name in enumerate(columns):
        kind, size = _column_kind(name, target)
        if kind == "level":
            out[:, :, j] = levels[:, start:]
        elif kind == "lag":
            out[:, :, j] = levels[:, start - size : m - size]
        elif kind == "return":
            out[:, :, j] = levels[:, start:] / levels[:, start - 1 : m - 1] - 1
        else:
            rolling = sliding_window_view(levels[:, start - size + 1 :], size, axis=1)
            # (n, length, size): the `size` days ending on each row of the window
            if kind == "rolling_mean":
                out[:, :, j] = rolling.mean(axis=-1)
            else:
                out[:, :, j] = rolling.std(axis=-1, ddof=1)  # pandas' rolling std
    return out


def recursive_forecast(
    model: Forecaster,
    history: np.ndarray,
    steps: int,
    *,
    coder: TargetCoder,
    scaler: AffineScaler,
    columns: Sequence[str],
    target: str,
    length: int,
    first_x: np.ndarray | None = None,
) -> np.ndarray:
    """Roll `model` forward `steps` days from the end of each price history.

    history: (n, m) observed prices ending at each origin. first_x: the stored scaled
    window of each origin, if any; later windows are rebuilt from the extended history.
    Returns (n, steps) predicted prices, day 1 first.
    """
    levels = np.asarray(history, dtype="float64")
    n = len(levels)
    x = first_x
    predicted: list[np.ndarray] = []
    done = 0
    while done < steps:
        if x is None:
            raw = feature_windows(levels, columns, target, length)  # (n, length, features)
            x = scaler.transform(raw.reshape(n * length, -1)).reshape(raw.shape)
        block = coder.decode(model.predict(x), levels[:, -1])
        block = (block if block.ndim == 2 else block[:, None])[:, : steps - done]
        predicted.append(block)
        levels = np.concatenate([levels, block], axis=1)
        done += block.shape[1]
        x = None
    return np.concatenate(predicted, axis=1)


def forecasts_by_step(
    model: Forecaster,
    test: Windows,
    table: pd.DataFrame,
    *,
    coder: TargetCoder,
    scaler: AffineScaler,
    target: str,
    horizon: int,
    steps: int,
) -> pd.DataFrame:
    """Forecasts of steps 1..`steps` from every test origin, each aligned with its target date.

    One row per (origin, step) whose target lies in the table, ordered by origin, then
    step: the target date is the `step`-th row after the origin, so steps count trading
    days. `actual` and `naive` (the price at the origin) come from the unscaled table;
    only the model's output is decoded. With steps = 1 the one row per origin is the
    window stage's own target, `horizon` rows ahead.
    """
    if steps == 1:
        frame = predict_test(model, test, table, coder, target)
        frame.insert(1, "step", horizon)
        return frame
    prices = table[target].to_numpy(dtype="float64")
    origin_rows = table.index.get_indexer(pd.DatetimeIndex(test.origin_dates))
    length = test.x.shape[1]
    columns = [str(c) for c in test.feature_names]
    context = length + history_needed(columns, target)
    if origin_rows.min() + 1 < context:
        raise SeqcastError(
            f"the first test origin has {origin_rows.min() + 1} days of history; a "
            f"recursive forecast rebuilds windows from {context}"
        )
    # (n, context): the prices up to and including each origin
    history = sliding_window_view(prices, context)[origin_rows - context + 1]
    predicted = recursive_forecast(
        model,
        history,
        steps,
        coder=coder,
        scaler=scaler,
        columns=columns,
        target=target,
        length=length,
        first_x=test.x,
    )
    target_rows = origin_rows[:, None] + np.arange(1, steps + 1)  # (n, steps)
    inside = target_rows < len(table)
    origin_of = np.broadcast_to(origin_rows[:, None], target_rows.shape)[inside]
    step_of = np.broadcast_to(np.arange(1, steps + 1), target_rows.shape)[inside]
    rows = target_rows[inside]
    return pd.DataFrame(
        {
            "origin_date": table.index[origin_of],
            "step": step_of,
            "actual": prices[rows],
            "predicted": predicted[inside],
            "naive": prices[origin_of],
        },
        index=pd.DatetimeIndex(table.index[rows], name="date"),
    )
