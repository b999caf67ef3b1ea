"""Daily (or longer) bars from Yahoo Finance through yfinance, as the tidy raw table.

`yfinance.download` answers with one wide frame: a DatetimeIndex named Date and
two-level columns (Price, Ticker), the fields sorted Close, High, Low, Open, Volume, and
prices auto-adjusted for splits and dividends (auto_adjust=True, asked for explicitly so
that a change of yfinance's default cannot change the data). Several tickers are aligned
on the union of their dates, so a date on which one ticker has no bar is all-NaN for it;
such padding is not a row of that ticker.

yfinance does not raise when Yahoo cannot be reached or does not know a ticker: it logs
the problem and returns an empty frame (or empty columns for that ticker). An empty
answer is therefore retried with exponential backoff, like the network errors that do
raise, and is then an error naming the tickers and dates, with what yfinance logged.
Nothing falls back to another source.
"""

import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import pandas as pd
from pydantic import model_validator

from seqcast.config import IsoDate, NonNegativeFloat, NonNegativeInt, PositiveFloat, Section
from seqcast.data.sources.raw import PRICE_FIELDS, RawData
from seqcast.data.sources.source import Source
from seqcast.errors import SeqcastError


class YfinanceConfig(Section):
    """data.yfinance: pinned dates, so that a rerun asks for the same rows."""

    start: IsoDate = "2015-01-02"
    end: IsoDate = "2025-01-01"  # exclusive, as in yfinance
    # Daily and longer bars only: Yahoo serves intraday bars for recent weeks only, which
    # pinned dates could not ask for again.
    interval: Literal["1d", "5d", "1wk", "1mo", "3mo"] = "1d"
    retries: NonNegativeInt = 3
    backoff_s: NonNegativeFloat = 2.0  # waits backoff_s, 2 backoff_s, 4 ...
    timeout_s: PositiveFloat = 10.0  # per HTTP request

    @model_validator(mode="after")
    def _start_before_end(self) -> "YfinanceConfig":
        if self.start >= self.end:
            raise ValueError(
                f"data.yfinance.start = {self.start!r} must be before data.yfinance.end = "
                f"{self.end!r} (the end date is exclusive)"
            )
        return self


FIELDS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Volume": "volume"}
SAID = 3  # distinct yfinance log messages quoted in an error

Downloader = Callable[..., pd.DataFrame]


def _yfinance_download(**request: Any) -> pd.DataFrame:
    import yfinance

    with warnings.catch_warnings():
        # yfinance 1.7 calls pandas methods with inplace=, which pandas 3.1 deprecates.
        warnings.filterwarnings("ignore", module=r"yfinance\.")
        return yfinance.download(**request)


def _transient_errors() -> tuple[type[BaseException], ...]:
    from yfinance.exceptions import YFRateLimitError

    # OSError covers connection failures and timeouts, curl_cffi's request errors included.
    return (OSError, YFRateLimitError)


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split())
        # Skip headings such as "1 Failed download:" that only announce the next message.
        if message and not message.endswith(":") and message not in self.messages:
            self.messages.append(message)


@contextmanager
def _yfinance_log() -> Iterator[list[str]]:
    """Collect what yfinance logs at WARNING or above, instead of printing it to stderr."""
    logger = logging.getLogger("yfinance")
    messages: list[str] = []
    handler = _Collect(messages)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _columns_of(frame: pd.DataFrame, symbol: str) -> pd.DataFrame | None:
    """The Price columns of one ticker, or None when yfinance returned none for it."""
    if frame is None or frame.empty or not isinstance(frame.columns, pd.MultiIndex):
        return None
    if symbol not in frame.columns.get_level_values("Ticker"):
        return None
    return frame.xs(symbol, axis=1, level="Ticker")


def tidy(frame: pd.DataFrame, tickers: Sequence[str]) -> tuple[pd.DataFrame, list[str], dict]:
    """(tidy table, tickers that came back empty, count of padding rows per ticker)."""
    parts, empty, padding = [], [], {}
    for ticker in tickers:
        # yfinance upper-cases every symbol it is given.
        columns = _columns_of(frame, ticker.upper())
        if columns is None:
            empty.append(ticker)
            continue
        absent = [field for field in FIELDS if field not in columns.columns]
        if absent:
            raise SeqcastError(
                f"yfinance returned no {', '.join(absent)} for {ticker}; got "
                f"{', '.join(map(str, columns.columns))}"
            )
        bars = columns[list(FIELDS)].rename(columns=FIELDS)
        padded = bars.isna().all(axis=1)
        bars = bars[~padded]
        if bars.empty:
            empty.append(ticker)
            continue
        if padded.any():
            padding[ticker] = int(padded.sum())
        if not bars["volume"].isna().any():
            # The union of several tickers' dates turns volume into float; it counts shares.
            bars = bars.astype({"volume": "int64"})
        dates = pd.DatetimeIndex(bars.index)
        if dates.tz is not None:
            dates = dates.tz_localize(None)
        table = pd.DataFrame({"date": dates, "ticker": ticker})
        parts.append(pd.concat([table, bars.reset_index(drop=True)], axis=1))
    prices = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return prices, empty, padding


def download_yfinance(
    params: YfinanceConfig,
    ticker: str,
    others: Sequence[str] = (),
    *,
    download: Downloader | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RawData:
    """Bars of `ticker` and `others` between the pinned dates, retried with backoff."""
    download = download or _yfinance_download
    tickers = [ticker, *others]
    request = {
        "tickers": tickers,
        "start": params.start,
        "end": params.end,
        "interval": params.interval,
        "auto_adjust": True,
        "actions": False,
        "group_by": "column",
        "multi_level_index": True,
        "progress": False,
        "threads": False,
        "timeout": params.timeout_s,
    }
    transient = _transient_errors()
    attempts = params.retries + 1
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    span = f"from {params.start} to {params.end} (end exclusive, interval {params.interval})"
    said: list[str] = []
    for attempt in range(attempts):
        if attempt:
            sleep(params.backoff_s * 2 ** (attempt - 1))
        failure = None
        with _yfinance_log() as messages:
            try:
                frame = download(**request)
            except transient as exc:
                failure = f"{type(exc).__name__}: {exc}"
        said += [m for m in messages if m not in said]
        if failure is None:
            prices, empty, padding = tidy(frame, tickers)
            if not empty:
                break
    else:
        logged = f" (yfinance said: {' | '.join(said[-SAID:])})" if said else ""
        if failure is not None:
            raise SeqcastError(
                f"yfinance download of {', '.join(tickers)} {span} failed in {tries}: "
                f"{failure}{logged}. No other source is used in its place"
            )
        raise SeqcastError(
            f"yfinance returned no prices for {', '.join(empty)} {span} in {tries}: "
            "the ticker may be unknown or delisted, or Yahoo Finance could not be "
            f"reached{logged}. No other source is used in its place: check data.ticker, "
            "data.tickers, data.yfinance.start / end and the network"
        )
    notes = []
    if padding:
        counted = ", ".join(f"{t} {n}" for t, n in padding.items())
        notes.append(
            "yfinance aligned the tickers on the union of their dates; dates without a bar of "
            f"a ticker are not rows of that ticker ({counted})"
        )
    if attempt:
        notes.append(f"yfinance answered on attempt {attempt + 1} of {attempts}")
    request_info = {k: v for k, v in request.items() if k not in ("progress", "threads")}
    return RawData(prices=prices, notes=notes, info={"request": request_info})


SOURCE = Source(
    name="yfinance",
    Config=YfinanceConfig,
    load=download_yfinance,
    columns=lambda _: PRICE_FIELDS,
)
