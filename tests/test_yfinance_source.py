"""yfinance source, offline: frames shaped by yfinance's own `download`, retries with backoff,
a clear error for an empty answer, no fallback to another source, and the real offline path."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
import yfinance_frames as yf_frames
from building import load_data

from seqcast.data import sources
from seqcast.data.sources.yfinance_source import YfinanceConfig, download_yfinance
from seqcast.errors import SeqcastError
from seqcast.params import parse_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = YfinanceConfig(start="2024-01-02", end="2024-01-09", retries=2, backoff_s=1.5)
AAPL = yf_frames.history(
    ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"],
    [185.0, 184.25, 181.5, 181.0, 185.5],
)
MSFT = yf_frames.history(["2024-01-03", "2024-01-04", "2024-01-08"], [370.5, 367.75, 374.5])


class Downloader:
    """Stands in for yfinance.download: answers from a script, recording each request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, **request):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def recorded(histories, tickers):
    return yf_frames.download(histories, tickers=tickers, start=PARAMS.start, end=PARAMS.end)


def test_fixture_has_the_shape_of_yfinance_download():
    frame = recorded({"AAPL": AAPL, "MSFT": MSFT}, ["AAPL", "MSFT"])
    assert frame.columns.names == ["Price", "Ticker"]
    assert frame.columns.tolist() == [
        (field, ticker)
        for field in ("Close", "High", "Low", "Open", "Volume")
        for ticker in ("AAPL", "MSFT")
    ]
    assert frame.index.name == "Date"
    assert frame.index.tz is None
    # The union of both tickers' dates; MSFT is NaN where it has no bar.
    assert frame.index.strftime("%Y-%m-%d").tolist() == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
        "2024-01-08",
    ]
    assert frame[("Close", "MSFT")].isna().tolist() == [True, False, False, True, False]
    assert frame[("Volume", "AAPL")].dtype == "int64"
    assert frame[("Volume", "MSFT")].dtype == "float64"


def test_one_ticker_becomes_the_tidy_table():
    fake = Downloader(recorded({"AAPL": AAPL}, ["AAPL"]))
    raw = download_yfinance(PARAMS, "AAPL", download=fake)
    prices = raw.prices
    assert list(prices.columns) == ["date", "ticker", "open", "high", "low", "close", "volume"]
    assert prices["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
        "2024-01-08",
    ]
    assert (prices["ticker"] == "AAPL").all()
    assert prices["close"].tolist() == [185.0, 184.25, 181.5, 181.0, 185.5]
    assert prices["open"].tolist() == [184.5, 183.75, 181.0, 180.5, 185.0]
    assert prices["high"].tolist() == [186.0, 185.25, 182.5, 182.0, 186.5]
    assert prices["low"].tolist() == [184.0, 183.25, 180.5, 180.0, 184.5]
    assert prices["volume"].tolist() == [1000, 2000, 3000, 4000, 5000]
    assert prices["volume"].dtype == "int64"
    assert raw.notes == []


def test_request_pins_dates_interval_and_auto_adjust():
    fake = Downloader(recorded({"AAPL": AAPL}, ["AAPL"]))
    raw = download_yfinance(PARAMS, "AAPL", download=fake)
    assert fake.requests == [
        {
            "tickers": ["AAPL"],
            "start": "2024-01-02",
            "end": "2024-01-09",
            "interval": "1d",
            "auto_adjust": True,
            "actions": False,
            "group_by": "column",
            "multi_level_index": True,
            "progress": False,
            "threads": False,
            "timeout": 10.0,
        }
    ]
    assert raw.info["request"]["start"] == "2024-01-02"
    assert raw.info["request"]["auto_adjust"] is True


def test_lower_case_symbols_are_found_under_yfinances_upper_case():
    fake = Downloader(recorded({"AAPL": AAPL}, ["aapl"]))
    prices = download_yfinance(PARAMS, "aapl", download=fake).prices
    assert (prices["ticker"] == "aapl").all()
    assert len(prices) == 5


def test_two_tickers_keep_their_own_dates_and_the_padding_is_reported():
    fake = Downloader(recorded({"AAPL": AAPL, "MSFT": MSFT}, ["AAPL", "MSFT"]))
    raw = download_yfinance(PARAMS, "AAPL", ["MSFT"], download=fake)
    prices = raw.prices
    assert prices["ticker"].tolist() == ["AAPL"] * 5 + ["MSFT"] * 3
    msft = prices[prices["ticker"] == "MSFT"]
    assert msft["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-03",
        "2024-01-04",
        "2024-01-08",
    ]
    assert msft["close"].tolist() == [370.5, 367.75, 374.5]
    assert msft["volume"].tolist() == [1000, 2000, 3000]
    assert prices["volume"].dtype == "int64"
    assert raw.notes == [
        "yfinance aligned the tickers on the union of their dates; dates without a bar of a "
        "ticker are not rows of that ticker (MSFT 2)"
    ]


def test_transient_errors_are_retried_with_exponential_backoff():
    frame = recorded({"AAPL": AAPL}, ["AAPL"])
    fake = Downloader(ConnectionError("reset by peer"), TimeoutError("timed out"), frame)
    slept = []
    raw = download_yfinance(PARAMS, "AAPL", download=fake, sleep=slept.append)
    assert slept == [1.5, 3.0]
    assert len(fake.requests) == 3
    assert len(raw.prices) == 5
    assert raw.notes == ["yfinance answered on attempt 3 of 3"]


def test_an_empty_answer_is_retried_then_an_error_naming_ticker_and_dates():
    empty = recorded({}, ["ZZZZ"])
    assert empty.empty
    fake = Downloader(empty, empty, empty)
    slept = []
    with pytest.raises(SeqcastError) as info:
        download_yfinance(PARAMS, "ZZZZ", download=fake, sleep=slept.append)
    assert slept == [1.5, 3.0]
    assert str(info.value) == (
        "yfinance returned no prices for ZZZZ from 2024-01-02 to 2024-01-09 (end exclusive, "
        "interval 1d) in 3 attempts: the ticker may be unknown or delisted, or Yahoo Finance "
        "could not be reached. No other source is used in its place: check data.ticker, "
        "data.tickers, data.yfinance.start / end and the network"
    )


def test_what_yfinance_logged_is_quoted_in_the_error():
    def logging_download(**request):
        import logging

        logging.getLogger("yfinance").error("1 Failed download:")
        logging.getLogger("yfinance").error("['ZZZZ']: possibly delisted; no timezone found")
        return pd.DataFrame()

    params = PARAMS.model_copy(update={"retries": 0})
    with pytest.raises(SeqcastError) as info:
        download_yfinance(params, "ZZZZ", download=logging_download)
    assert "in 1 attempt: " in str(info.value)
    assert "(yfinance said: ['ZZZZ']: possibly delisted; no timezone found)" in str(info.value)


def test_one_empty_ticker_of_two_is_named_alone():
    answer = recorded({"AAPL": AAPL}, ["AAPL", "ZZZZ"])
    fake = Downloader(answer, answer, answer)
    with pytest.raises(SeqcastError, match=r"^yfinance returned no prices for ZZZZ from "):
        download_yfinance(PARAMS, "AAPL", ["ZZZZ"], download=fake, sleep=lambda s: None)


def test_persistent_network_errors_end_in_one_clear_error():
    fake = Downloader(*[ConnectionError("no route to host")] * 3)
    with pytest.raises(SeqcastError) as info:
        download_yfinance(PARAMS, "AAPL", download=fake, sleep=lambda s: None)
    assert str(info.value) == (
        "yfinance download of AAPL from 2024-01-02 to 2024-01-09 (end exclusive, interval 1d) "
        "failed in 3 attempts: ConnectionError: no route to host. No other source is used in "
        "its place"
    )


def test_a_bug_is_not_retried_as_if_it_were_the_network():
    fake = Downloader(TypeError("unexpected keyword"))
    slept = []
    with pytest.raises(TypeError, match="unexpected keyword"):
        download_yfinance(PARAMS, "AAPL", download=fake, sleep=slept.append)
    assert slept == []


def test_the_real_yfinance_download_runs_through_our_code():
    """No injected downloader: our default calls yfinance.download; only Yahoo is replaced."""
    with yf_frames.answering({"AAPL": AAPL, "MSFT": MSFT}):
        raw = download_yfinance(PARAMS, "AAPL", ["MSFT"])
    closes = raw.prices.groupby("ticker")["close"].apply(list).to_dict()
    assert closes == {"AAPL": [185.0, 184.25, 181.5, 181.0, 185.5], "MSFT": [370.5, 367.75, 374.5]}


def test_a_failed_download_never_falls_back_to_another_source(monkeypatch):
    import seqcast.data.sources.csv_source as csv_source
    import seqcast.data.sources.synthetic as synthetic
    import seqcast.data.sources.yfinance_source as yfinance_source

    def forbidden(*args, **kwargs):
        raise AssertionError("another source was used")

    monkeypatch.setattr(sources, "load_sample", forbidden)
    monkeypatch.setattr(csv_source, "load_csv", forbidden)
    monkeypatch.setattr(synthetic, "generate", forbidden)
    monkeypatch.setattr(yfinance_source, "_yfinance_download", lambda **r: pd.DataFrame())
    data = parse_params({"data": {"source": "yfinance", "yfinance": {"retries": 0}}}).data
    with pytest.raises(SeqcastError, match=r"^yfinance returned no prices for AAPL "):
        load_data(data)


def test_yfinance_with_bad_bars_fails_the_schema():
    broken = AAPL.copy()
    broken.loc[broken.index[2], "High"] = 170.0  # below open and close
    data = parse_params(
        {"data": {"source": "yfinance", "yfinance": {"start": "2024-01-02", "end": "2024-01-09"}}}
    ).data
    with yf_frames.answering({"AAPL": broken}), pytest.raises(SeqcastError) as info:
        load_data(data)
    assert str(info.value) == (
        "data.source = yfinance: the raw table breaks its schema: high < max(open, close) in "
        "1 row of AAPL: 2024-01-04"
    )


def test_offline_the_real_yfinance_path_ends_in_the_clear_error(tmp_path):
    """No mock at all: the download stage, yfinance and the (absent) network, in a subprocess
    with a time limit so that a hanging request fails the test instead of stalling it."""
    params = {
        "data": {
            "source": "yfinance",
            "yfinance": {
                "start": "2024-01-02",
                "end": "2024-02-01",
                "retries": 1,
                "backoff_s": 0.0,
                "timeout_s": 5.0,
            },
        }
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # yfinance's tz cache
    result = subprocess.run(
        [sys.executable, ROOT / "stages" / "download.py", "raw.parquet", "source.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode == 0:
        pytest.skip("Yahoo Finance is reachable from here: the offline path cannot be exercised")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "seqcast download: error: yfinance returned no prices for AAPL from 2024-01-02 to "
        "2024-02-01 (end exclusive, interval 1d) in 2 attempts: the ticker may be unknown or "
        "delisted, or Yahoo Finance could not be reached (yfinance said: "
    )
    assert lines[0].endswith(
        "No other source is used in its place: check data.ticker, "
        "data.tickers, data.yfinance.start / end and the network"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "params.yaml"]
