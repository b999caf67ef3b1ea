"""The params against the data, in seconds, before anything trains.

Runs the data stages' own functions in memory (features, extra columns, split, scaler,
windows and target coder) and cuts every backtest fold, so that a problem that only the
data reveals ends the pipeline right after `download`, with the message the later stage
would give, instead of after minutes of training: a series too short for the split and
window asked for, a constant series, a non-positive one under a transform that needs
positive prices, a backtest origin outside the data.
"""

from typing import Any

import numpy as np
import pandas as pd

from seqcast.data.alignment import join_extra_columns, ticker_rows
from seqcast.data.features import make_features
from seqcast.errors import SeqcastError
from seqcast.forecasting.folds import backtest_fold, origin_date
from seqcast.params import Params
from seqcast.prep.preprocessing import pipeline_preprocessing
from seqcast.prep.scaling import scale_split_table
from seqcast.prep.splitting import split_table


def check_data(params: Params, raw: pd.DataFrame) -> dict[str, Any]:
    """Raise a SeqcastError for the first thing the data cannot give; else the data's rows
    and dates."""
    target, f = params.data.target, params.features
    prices = ticker_rows(raw, params.data.ticker)
    series = prices[target].to_numpy(dtype="float64")
    if np.all(series == series[0]):
        raise SeqcastError(
            f"{params.data.ticker} {target} is constant ({series[0]:g} on all {len(series)} "
            "days): there is nothing to forecast; check data.ticker and data.target"
        )
    table = make_features(prices, target, f.lags, f.rolling_windows, f.returns)
    table = join_extra_columns(table, raw, f.extra_inputs, f.join).table
    s = params.split
    labelled = split_table(table, s)
    scaled, scaler = scale_split_table(labelled, params.scale.method)
    pipeline_preprocessing(scaled, labelled[target], scaler, *params.prep_sections())
    b = params.backtest
    for origin in b.origins:
        day = origin_date(origin, table, s, b.test_days)
        try:
            backtest_fold(table, day, b)
        except SeqcastError as exc:
            if isinstance(origin, str):
                raise
            raise SeqcastError(
                f"backtest fold {origin} does not fit this series of {len(table)} rows: "
                f"{exc.args[0].removesuffix('; choose a later origin')}; list fewer folds in "
                "backtest.origins or shorten backtest.val_days / test_days"
            ) from None
    # Only what the data is, not what the params asked of it: featurize depends on this
    # summary (so that DVC runs the check first), and must not rerun when a param of the
    # check alone changes.
    return {
        "rows": len(table),
        "start": table.index[0].strftime("%Y-%m-%d"),
        "end": table.index[-1].strftime("%Y-%m-%d"),
    }
