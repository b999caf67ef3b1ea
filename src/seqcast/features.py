"""Feature table from a price series: the target itself, lags, rolling statistics, returns.

Row t holds only values observed at or before date t, so a model that reads rows up to
t and predicts t + horizon never sees the future. The first rows, where a lag or a
rolling window would reach before the start of the series, are trimmed: how many is
`warmup_rows`, a pure function of the parameters.
"""

import pandas as pd

from seqcast.errors import SeqcastError

RETURN_SUFFIX = "_return_1"


def is_return_column(name: str) -> bool:
    """Whether a feature column is a one-day return, a change rather than a level."""
    return name.endswith(RETURN_SUFFIX)


def warmup_rows(lags: int, rolling_windows: list[int], returns: bool) -> int:
    return max([lags, int(returns), *(w - 1 for w in rolling_windows)])


def make_features(
    prices: pd.DataFrame,
    target: str,
    lags: int,
    rolling_windows: list[int],
    returns: bool,
) -> pd.DataFrame:
    """Date-indexed table whose first column is `target`, followed by derived features."""
    series = prices.set_index("date")[target].astype("float64")
    if returns and (series <= 0).any():
        # A percentage change from zero or a negative level is infinite or meaningless.
        bad = series.index[series <= 0]
        shown = ", ".join(bad[:5].strftime("%Y-%m-%d")) + (" ..." if len(bad) > 5 else "")
        raise SeqcastError(
            f"features.returns = true: the one-day percentage change needs a positive {target}, "
            f"but it is <= 0 on {len(bad)} dates ({shown}); set features.returns: false"
        )
    columns = {target: series}
    for lag in range(1, lags + 1):
        columns[f"{target}_lag_{lag}"] = series.shift(lag)
    for window in rolling_windows:
        rolling = series.rolling(window)
        columns[f"{target}_rolling_mean_{window}"] = rolling.mean()
        columns[f"{target}_rolling_std_{window}"] = rolling.std()
    if returns:
        columns[f"{target}{RETURN_SUFFIX}"] = series.pct_change(fill_method=None)
    table = pd.DataFrame(columns)
    skip = warmup_rows(lags, rolling_windows, returns)
    if len(table) <= skip:
        raise SeqcastError(
            f"the series has {len(table)} rows, fewer than the {skip + 1} that features.lags / "
            "features.rolling_windows need for a single row"
        )
    table = table.iloc[skip:]
    if table.isna().any().any():
        bad = table.index[table.isna().any(axis=1)][:5].strftime("%Y-%m-%d").tolist()
        raise SeqcastError(f"missing values in the feature table at {bad}; check the raw prices")
    return table
