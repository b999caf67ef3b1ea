"""The series to forecast and the extra input columns, out of the raw table of many tickers.

The raw table stacks one block of rows per ticker. The target ticker's rows give the
dates; each extra input (`features.extra_columns`, "TICKER.column") is looked up on those
dates. Where an extra input has no value on a target date, `features.join` decides:
"exact" is an error naming the dates, "inner" keeps only the dates every column has and
reports how many it dropped. Dates that only other tickers have are not rows: nothing is
forecast on them.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from seqcast.data.sources.schema import describe_dates
from seqcast.errors import SeqcastError


def ticker_rows(raw: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """The raw rows of one ticker, in date order."""
    rows = raw[raw["ticker"] == ticker]
    if rows.empty:
        tickers = ", ".join(map(str, raw["ticker"].unique()))
        raise SeqcastError(
            f"data.ticker = {ticker!r}: not in the raw table, which holds {tickers}; "
            "rerun the download stage"
        )
    return rows.sort_values("date").reset_index(drop=True)


@dataclass(frozen=True)
class Joined:
    table: pd.DataFrame  # the feature table with one column per extra input appended
    dropped: pd.DatetimeIndex  # target dates dropped by features.join = inner


def join_extra_columns(
    table: pd.DataFrame, raw: pd.DataFrame, extra: Sequence[tuple[str, str]], join: str
) -> Joined:
    """Append each extra input, named "TICKER.column", aligned on the dates of `table`."""
    if not extra:
        return Joined(table, pd.DatetimeIndex([]))
    columns = {}
    for ticker, column in extra:
        series = ticker_rows(raw, ticker).set_index("date")[column].astype("float64")
        columns[f"{ticker}.{column}"] = series.reindex(table.index)
    extras = pd.DataFrame(columns, index=table.index)
    absent = extras.isna()
    if not absent.any().any():
        return Joined(pd.concat([table, extras], axis=1), pd.DatetimeIndex([]))
    if join == "exact":
        listed = "; ".join(
            f"{name} on {int(rows.sum())} of {len(rows)} dates: {describe_dates(rows.index[rows])}"
            for name, rows in absent.items()
            if rows.any()
        )
        raise SeqcastError(
            f"features.extra_columns have no value on some dates of the target: {listed}; set "
            "features.join: inner to keep only the dates that every column has"
        )
    keep = ~absent.any(axis=1)
    if not keep.any():
        raise SeqcastError(
            f"features.join = inner: the target and {', '.join(columns)} share no date"
        )
    joined = pd.concat([table[keep], extras[keep]], axis=1)
    return Joined(joined, pd.DatetimeIndex(table.index[~keep]))
