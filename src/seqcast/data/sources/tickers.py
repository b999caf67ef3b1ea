"""Pick the requested tickers' rows out of a table that holds many, naming any that is absent."""

from collections.abc import Sequence

import pandas as pd

from seqcast.errors import SeqcastError

LISTED = 20  # available tickers named in an error; a file may hold hundreds


def ticker_key(ticker: str, target: str) -> str:
    """The parameter that asked for `ticker`: data.ticker for the target, else data.tickers."""
    return f"data.ticker = {ticker!r}" if ticker == target else f"data.tickers contains {ticker!r}"


def select_tickers(
    table: pd.DataFrame,
    column: str,
    ticker: str,
    others: Sequence[str],
    where: str,
    sort_dates: bool = False,
) -> pd.DataFrame:
    """Rows of `ticker`, then of each of `others`, in file order or sorted by date (stable).

    The original row positions stay in the index, so that errors can name file lines.
    """
    available = sorted(table[column].dropna().astype(str).unique())
    parts = []
    for name in [ticker, *others]:
        rows = table[table[column].astype(str) == name]
        if rows.empty:
            shown = ", ".join(available[:LISTED])
            more = f" and {len(available) - LISTED} more" if len(available) > LISTED else ""
            raise SeqcastError(
                f"{ticker_key(name, ticker)}: not in {where}; choose from {shown}{more}"
            )
        parts.append(rows.sort_values("date", kind="stable") if sort_dates else rows)
    return pd.concat(parts)
