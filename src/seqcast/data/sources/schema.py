"""The contract of the raw table that every source writes, checked before it is written.

One tidy table: `date`, `ticker`, then numeric columns. Whatever the source, it must have
unique, increasing dates per ticker and no missing or infinite values; price columns
(open, high, low, close) must be positive, volume non-negative, and a bar consistent:
high >= max(open, close) and low <= min(open, close). A violation is one error that
names the rule, the ticker and the offending dates. `large_gaps` finds unusually long
spaces between dates, which are worth a warning but not an error.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd

from seqcast.errors import SeqcastError

PRICES = ("open", "high", "low", "close")
SHOWN = 5  # offending rows named in a message; the rest are counted
# yfinance adjusts open, high and low by multiplying with adj_close / close but takes close
# as adj_close itself, so a high equal to the close can end one rounding step below it.
RTOL = 1e-9


def describe_dates(dates: Sequence[pd.Timestamp] | pd.DatetimeIndex | pd.Series) -> str:
    """'2020-01-02, 2020-01-03 and 4 more' for an error message."""
    dates = pd.DatetimeIndex(dates)
    shown = ", ".join(dates[:SHOWN].strftime("%Y-%m-%d"))
    more = len(dates) - SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _rows(rule: str, ticker: str, dates: pd.Series) -> str:
    count = f"{len(dates)} row{'s' if len(dates) != 1 else ''}"
    return f"{rule} in {count} of {ticker}: {describe_dates(dates)}"


def problems(table: pd.DataFrame) -> list[str]:
    """Every violation of the raw-table contract, each naming its ticker and dates."""
    missing = [c for c in ("date", "ticker") if c not in table.columns]
    if missing:
        return [f"no {' or '.join(missing)} column"]
    if not pd.api.types.is_datetime64_any_dtype(table["date"]):
        return [f"the date column has dtype {table['date'].dtype}, not datetime"]
    values = [c for c in table.columns if c not in ("date", "ticker")]
    if not values:
        return ["no numeric columns besides date and ticker"]
    not_numeric = [c for c in values if not pd.api.types.is_numeric_dtype(table[c])]
    if not_numeric:
        return [f"columns {not_numeric} are not numeric"]
    if table.empty:
        return ["no rows"]

    found = []
    for ticker, rows in table.groupby("ticker", sort=False):
        dates = rows["date"]
        if dates.isna().any():
            found.append(f"missing dates in {int(dates.isna().sum())} rows of {ticker}")
            continue
        duplicated = dates.duplicated(keep=False)
        if duplicated.any():
            found.append(_rows("duplicated dates", ticker, dates[duplicated].drop_duplicates()))
        elif not dates.is_monotonic_increasing:
            earlier = dates.diff() < pd.Timedelta(0)
            found.append(_rows("dates earlier than the row before", ticker, dates[earlier]))
        numbers = rows[values].astype("float64")
        for column in values:
            absent = numbers[column].isna()
            if absent.any():
                found.append(_rows(f"missing values in {column}", ticker, dates[absent]))
            infinite = np.isinf(numbers[column])
            if infinite.any():
                found.append(_rows(f"infinite values in {column}", ticker, dates[infinite]))
        for column in [c for c in PRICES if c in values]:
            non_positive = numbers[column] <= 0
            if non_positive.any():
                found.append(_rows(f"{column} <= 0", ticker, dates[non_positive]))
        if "volume" in values:
            negative = numbers["volume"] < 0
            if negative.any():
                found.append(_rows("volume < 0", ticker, dates[negative]))
        if {"open", "high", "close"} <= set(values):
            top = numbers[["open", "close"]].max(axis=1)
            too_low = numbers["high"] < top * (1 - RTOL)
            if too_low.any():
                found.append(_rows("high < max(open, close)", ticker, dates[too_low]))
        if {"open", "low", "close"} <= set(values):
            bottom = numbers[["open", "close"]].min(axis=1)
            too_high = numbers["low"] > bottom * (1 + RTOL)
            if too_high.any():
                found.append(_rows("low > min(open, close)", ticker, dates[too_high]))
    return found


def validate(table: pd.DataFrame, source: str) -> None:
    """Raise one SeqcastError listing every violation; `source` says where the table came from."""
    found = problems(table)
    if found:
        raise SeqcastError(f"{source}: the raw table breaks its schema: " + "; ".join(found))


def large_gaps(dates: pd.Series, factor: float) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(before, after) pairs of consecutive dates more than `factor` x the median spacing apart."""
    dates = pd.Series(pd.DatetimeIndex(dates))
    spacing = dates.diff().iloc[1:]
    if spacing.empty:
        return []
    long = spacing > factor * spacing.median()
    return [(dates.iloc[i - 1], dates.iloc[i]) for i in spacing.index[long]]
