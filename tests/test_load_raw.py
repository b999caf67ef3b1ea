"""The download stage's dispatch on data.source: each source's table is schema-checked, the
sample serves several tickers, and source.json records where the data came from."""

from pathlib import Path

import pandas as pd
import pytest
from building import load_data

from seqcast.data import sources
from seqcast.errors import SeqcastError
from seqcast.params import parse_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def in_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_sample_with_several_tickers_target_first():
    data = parse_params({"data": {"ticker": "MSFT", "tickers": ["IBM", "MSFT", "GOOG"]}}).data
    raw = load_data(data)
    prices = raw.prices
    order = prices["ticker"].drop_duplicates().tolist()
    assert order == ["MSFT", "IBM", "GOOG"]
    for ticker, rows in prices.groupby("ticker"):
        assert rows["date"].is_monotonic_increasing, ticker
    info = sources.source_info(data.source, raw)
    assert info == {
        "source": "sample",
        "path": "data/sample/stocks.csv",
        "tickers": {
            "MSFT": {"rows": 3270, "start": "2000-03-01", "end": "2013-03-01"},
            "IBM": {"rows": 3270, "start": "2000-03-01", "end": "2013-03-01"},
            "GOOG": {"rows": 2148, "start": "2004-08-19", "end": "2013-03-01"},
        },
        "noise_floor": None,
    }


def test_default_sample_table_is_the_one_ticker_table_as_before():
    prices = load_data(parse_params({}).data).prices
    legacy = pd.read_csv("data/sample/stocks.csv", parse_dates=["date"])
    legacy = legacy[legacy["ticker"] == "AAPL"].sort_values("date").reset_index(drop=True)
    pd.testing.assert_frame_equal(prices, legacy[prices.columns])


def test_unknown_extra_ticker_in_the_sample():
    data = parse_params({"data": {"tickers": ["AAPL", "TSLA"]}}).data
    with pytest.raises(SeqcastError) as info:
        load_data(data)
    assert str(info.value) == (
        "data.tickers contains 'TSLA': not in the sample snapshot data/sample/stocks.csv; "
        "choose from AAPL, GOOG, IBM, MSFT"
    )


def test_every_source_is_schema_checked(tmp_path):
    bad = tmp_path / "stocks.csv"
    bad.write_text("date,ticker,open,high,low,close,volume\n2024-01-02,AAPL,1,0.5,0.4,0.9,10\n")
    data = parse_params({"data": {"sample": {"path": str(bad)}}}).data
    with pytest.raises(SeqcastError) as info:
        load_data(data)
    assert str(info.value) == (
        "data.source = sample: the raw table breaks its schema: high < max(open, close) in "
        "1 row of AAPL: 2024-01-02"
    )
