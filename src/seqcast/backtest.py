"""Walk-forward backtest: refit and score a model at several forecast origins.

A fold is defined by its origin, the last date it may learn from. Its test block is the
`test_days` trading days after the origin, its validation block (early stopping) the
`val_days` days up to and including the origin, and its training block everything
before that (expanding) or only the last `train_days` days (sliding). Each fold fits its
own scaler and target coder on its own training rows, trains the model from scratch and
scores it exactly as the main evaluation does; nothing learnt in one fold reaches another.
"""

import datetime
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from seqcast.errors import SeqcastError
from seqcast.evaluation import score_by_step
from seqcast.models import Forecaster, History, build_model
from seqcast.multistep import forecasts_by_step
from seqcast.params import Params
from seqcast.scaling import AffineScaler, scale_split_table
from seqcast.transforms import model_windows


def fold_table(
    features: pd.DataFrame,
    origin: datetime.date,
    *,
    scheme: Literal["expanding", "sliding"],
    train_days: int,
    val_days: int,
    test_days: int,
) -> pd.DataFrame:
    """The fold's rows of the feature table, labelled train / val / test in a split column."""
    dates = features.index
    origin_row = int(dates.searchsorted(pd.Timestamp(origin), side="right")) - 1
    when = f"backtest.origins: {origin.isoformat()}"
    if origin_row < 0:
        raise SeqcastError(f"{when} is before the first date, {dates[0]:%Y-%m-%d}")
    after = len(dates) - origin_row - 1
    if after < test_days:
        raise SeqcastError(
            f"{when} leaves {after} trading days after it, fewer than backtest.test_days = "
            f"{test_days}; choose an earlier origin"
        )
    train_end = origin_row - val_days + 1  # first val row
    train_start = 0 if scheme == "expanding" else train_end - train_days
    if train_start < 0 or train_end <= train_start:
        need = f"{train_days} training days" if scheme == "sliding" else "a training block"
        raise SeqcastError(
            f"{when} has {origin_row + 1} days up to it, too few for backtest.val_days = "
            f"{val_days} and {need}; choose a later origin"
        )
    rows = slice(train_start, origin_row + test_days + 1)
    table = features.iloc[rows].copy()
    table["split"] = np.repeat(
        np.array(["train", "val", "test"], dtype=object),
        [train_end - train_start, val_days, test_days],
    )
    return table


@dataclass
class FoldResult:
    predictions: pd.DataFrame  # one row per (origin, step), as forecasts_by_step gives
    metrics_by_step: dict[int, dict[str, float]]
    scaler: AffineScaler
    model: Forecaster
    history: History


def run_fold(table: pd.DataFrame, model_name: str, params: Params) -> FoldResult:
    """Scale, window, train and score one model on one fold (a table from fold_table)."""
    target = params.data.target
    scaled, scaler = scale_split_table(table, params.scale.method)
    windows, coder = model_windows(
        scaled,
        table[target],
        scaler,
        target=target,
        length=params.window.length,
        horizon=params.window.horizon,
        steps=params.multistep.steps,
        direct=params.multistep.strategy == "direct",
        transform=params.target.transform,
    )
    model = build_model(model_name, params)
    history = model.fit(windows["train"], windows["val"])
    predictions = forecasts_by_step(
        model,
        windows["test"],
        table,
        coder=coder,
        scaler=scaler,
        target=target,
        horizon=params.window.horizon,
        steps=params.multistep.steps,
    )
    return FoldResult(
        predictions, score_by_step(predictions, table, target), scaler, model, history
    )
