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

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from seqcast.errors import SeqcastError
from seqcast.models import Forecaster
from seqcast.prep.preprocessing import Preprocessing
from seqcast.prep.windows import Windows


def predict_test(
    model: Forecaster, test: Windows, table: pd.DataFrame, prep: Preprocessing
) -> pd.DataFrame:
    """Dated predictions in original units, beside the actual value and the naive forecast.

    `table` is the unscaled feature table with its split column: actual and naive values
    come from it directly, so they are exact, and only the model's output is decoded
    (unscaled, and for a change transform added to the origin's price).
    """
    naive = table.loc[test.origin_dates, prep.target].to_numpy()
    predicted = prep.decode(model.predict(test.x), naive)
    return pd.DataFrame(
        {
            "origin_date": pd.DatetimeIndex(test.origin_dates),
            "actual": table.loc[test.target_dates, prep.target].to_numpy(),
            "predicted": predicted,
            "naive": naive,
        },
        index=pd.DatetimeIndex(test.target_dates, name="date"),
    )


def recursive_forecast(
    model: Forecaster,
    prep: Preprocessing,
    history: np.ndarray,
    steps: int,
    first_x: np.ndarray | None = None,
) -> np.ndarray:
    """Roll `model` forward `steps` days from the end of each price history.

    history: (n, m) observed prices ending at each origin. first_x: the stored scaled
    window of each origin, if any; later windows are rebuilt from the extended history.
    Returns (n, steps) predicted prices, day 1 first.
    """
    levels = np.asarray(history, dtype="float64")
    x = first_x
    predicted: list[np.ndarray] = []
    done = 0
    while done < steps:
        if x is None:
            x = prep.rebuild_inputs(levels)  # (n, length, features)
        block = prep.decode(model.predict(x), levels[:, -1])
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
    prep: Preprocessing,
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
        frame = predict_test(model, test, table, prep)
        frame.insert(1, "step", prep.horizon)
        return frame
    prices = table[prep.target].to_numpy(dtype="float64")
    origin_rows = table.index.get_indexer(pd.DatetimeIndex(test.origin_dates))
    context = prep.context
    if origin_rows.min() + 1 < context:
        raise SeqcastError(
            f"the first test origin has {origin_rows.min() + 1} days of history; a "
            f"recursive forecast rebuilds windows from {context}"
        )
    # (n, context): the prices up to and including each origin
    history = sliding_window_view(prices, context)[origin_rows - context + 1]
    predicted = recursive_forecast(model, prep, history, steps, first_x=test.x)
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
