"""Frames exactly as yfinance 1.7.0's `download` returns them, made offline.

Only the network is replaced: `Ticker.history` answers with the per-ticker frame that
yfinance's price history builds for daily bars with auto_adjust=True and actions=False
(columns Open, High, Low, Close, Volume; volume int64; a midnight DatetimeIndex in the
exchange's time zone, named Date). yfinance's own `download` then assembles the result:
the union of the tickers' dates, tz-naive for daily bars, columns (Price, Ticker) sorted
Close, High, Low, Open, Volume. A ticker without an answer raises as yfinance does when
Yahoo does not know it, which yfinance turns into empty columns and a logged error.
"""

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pandas as pd
import yfinance
from yfinance.exceptions import YFTzMissingError

EXCHANGE_TZ = "America/New_York"


def history(dates: Iterable[str], close: Iterable[float]) -> pd.DataFrame:
    """One ticker's `Ticker.history(interval="1d", auto_adjust=True)` frame."""
    close = np.asarray(list(close), dtype="float64")
    # yfinance: pd.to_datetime(quotes.index.date).tz_localize(tz_exchange) for daily bars.
    index = pd.to_datetime(pd.DatetimeIndex(list(dates)).date).tz_localize(EXCHANGE_TZ)
    frame = pd.DataFrame(
        {
            "Open": close - 0.5,
            "High": close + 1.0,
            "Low": close - 1.0,
            "Close": close,
            "Volume": (np.arange(close.size) + 1).astype("int64") * 1000,
        },
        index=index,
    )
    frame.index.name = "Date"
    return frame


@contextmanager
def answering(histories: dict[str, pd.DataFrame]) -> Iterator[None]:
    """Within the block, yfinance gets each ticker's history from `histories`, not Yahoo."""

    def answer(self, **kwargs) -> pd.DataFrame:
        if self.ticker not in histories:
            raise YFTzMissingError(self.ticker)
        return histories[self.ticker].copy()

    with mock.patch.object(yfinance.Ticker, "history", answer):
        yield


def download(histories: dict[str, pd.DataFrame], **request) -> pd.DataFrame:
    """The frame that the real `yfinance.download(**request)` returns for these histories."""
    request = {"progress": False, "threads": False, **request}
    with answering(histories), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"yfinance\.")  # pandas 3.1 deprecations
        return yfinance.download(**request)
