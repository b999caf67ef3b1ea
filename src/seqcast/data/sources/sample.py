"""The committed offline snapshot (data/sample/stocks.csv): the default source."""

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from seqcast.config import Section
from seqcast.data.sources.raw import PRICE_FIELDS, RawData
from seqcast.data.sources.source import Source
from seqcast.data.sources.tickers import select_tickers
from seqcast.errors import SeqcastError

PRICE_COLUMNS = ["date", "ticker", *PRICE_FIELDS]


class SampleConfig(Section):
    """data.sample: the committed snapshot's file."""

    path: str = "data/sample/stocks.csv"


def load_sample(path: str | Path, ticker: str, others: Sequence[str] = ()) -> pd.DataFrame:
    """Prices of `ticker`, then of each of `others`, each sorted by date, in the tidy layout."""
    path = Path(path)
    if not path.exists():
        raise SeqcastError(f"data.sample.path = '{path}': file not found")
    table = pd.read_csv(path, parse_dates=["date"])
    missing = sorted(set(PRICE_COLUMNS) - set(table.columns))
    if missing:
        raise SeqcastError(f"{path}: missing columns {missing}; expected {PRICE_COLUMNS}")
    where = f"the sample snapshot {path}"
    prices = select_tickers(table, "ticker", ticker, others, where, sort_dates=True)
    return prices[PRICE_COLUMNS].reset_index(drop=True)


def _load(config: SampleConfig, ticker: str, others: Sequence[str]) -> RawData:
    prices = load_sample(config.path, ticker, others)
    return RawData(prices=prices, info={"path": config.path})


SOURCE = Source(name="sample", Config=SampleConfig, load=_load, columns=lambda _: PRICE_FIELDS)
