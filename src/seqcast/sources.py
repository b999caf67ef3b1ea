"""Load raw daily prices into one tidy table: date, ticker, open, high, low, close, volume."""

from pathlib import Path

import pandas as pd

from seqcast.errors import SeqcastError

PRICE_COLUMNS = ["date", "ticker", "open", "high", "low", "close", "volume"]


def load_sample(path: str | Path, ticker: str) -> pd.DataFrame:
    """Prices of `ticker` from the committed offline snapshot (data/sample/stocks.csv)."""
    path = Path(path)
    if not path.exists():
        raise SeqcastError(f"data.sample_path = '{path}': file not found")
    table = pd.read_csv(path, parse_dates=["date"])
    missing = sorted(set(PRICE_COLUMNS) - set(table.columns))
    if missing:
        raise SeqcastError(f"{path}: missing columns {missing}; expected {PRICE_COLUMNS}")
    available = sorted(table["ticker"].unique())
    prices = table[table["ticker"] == ticker]
    if prices.empty:
        raise SeqcastError(
            f"data.ticker = {ticker!r}: not in the sample snapshot {path}; "
            f"choose from {', '.join(available)}"
        )
    return prices[PRICE_COLUMNS].sort_values("date").reset_index(drop=True)
