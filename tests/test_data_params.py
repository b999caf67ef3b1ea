"""Params of the data sources and extra inputs: each cross-field rule, with its exact message."""

import datetime

import pytest

from seqcast.errors import SeqcastError
from seqcast.params import parse_params


def error(raw) -> str:
    with pytest.raises(SeqcastError) as info:
        parse_params(raw)
    return str(info.value).removeprefix("params.yaml: ")


def test_defaults_keep_the_sample_source_and_one_ticker():
    data = parse_params({}).data
    assert (data.source, data.ticker, data.tickers, data.target) == ("sample", "AAPL", [], "close")
    assert data.all_tickers == ["AAPL"] and data.other_tickers == []
    assert data.columns == ("open", "high", "low", "close", "volume")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"data": {"source": "quandl"}},
            "data.source = 'quandl': Input should be 'sample', 'yfinance', 'csv' or 'synthetic'",
        ),
        (
            {"data": {"source": "synthetic"}},
            "data.target = 'close': not a column that data.source = synthetic provides; choose "
            "from 'value'; data.ticker = 'AAPL': with data.source = synthetic the one series is "
            "named after data.synthetic.kind; set data.ticker: sine and leave data.tickers empty",
        ),
        (
            {"data": {"source": "csv", "target": "adj_close"}},
            "data.target = 'adj_close': not a column that data.source = csv provides; choose "
            "from 'open', 'high', 'low', 'close' or 'volume'",
        ),
        (
            {"data": {"tickers": ["MSFT", "IBM"]}},
            "data.tickers = ['MSFT', 'IBM']: must include data.ticker = 'AAPL', the series to "
            "forecast",
        ),
        (
            {"data": {"tickers": ["AAPL", "IBM", "IBM"]}},
            "data.tickers = ['AAPL', 'IBM', 'IBM']: list each ticker once",
        ),
        (
            {
                "data": {
                    "source": "csv",
                    "tickers": ["AAPL", "IBM"],
                    "csv": {"ticker_column": None},
                }
            },
            "data.tickers = ['AAPL', 'IBM']: a CSV without data.csv.ticker_column holds one "
            "series; set data.csv.ticker_column to load several tickers",
        ),
        (
            {"data": {"yfinance": {"start": "2024-02-01", "end": "2024-02-01"}}},
            "data.yfinance.start = '2024-02-01' must be before data.yfinance.end = '2024-02-01' "
            "(the end date is exclusive)",
        ),
        (
            {"data": {"yfinance": {"start": "2024-2-1"}}},
            "data.yfinance.start = '2024-2-1': expected a date written YYYY-MM-DD, in quotes",
        ),
        (
            {"data": {"yfinance": {"end": datetime.date(2024, 2, 1)}}},
            "data.yfinance.end = datetime.date(2024, 2, 1): write the date in quotes, as DVC "
            "rejects YAML dates: '2015-01-02'",
        ),
        (
            {"data": {"yfinance": {"interval": "1m"}}},
            "data.yfinance.interval = '1m': Input should be '1d', '5d', '1wk', '1mo' or '3mo'",
        ),
        (
            {"data": {"yfinance": {"retries": -1}}},
            "data.yfinance.retries = -1: Input should be greater than or equal to 0",
        ),
        (
            {"data": {"csv": {"missing": "interpolate"}}},
            "data.csv.missing = 'interpolate': Input should be 'error', 'ffill' or 'drop'",
        ),
        (
            {"data": {"csv": {"columns": {"Close": "Adj Close"}}}},
            "data.csv.columns: the names ['Close'] are not lower-case identifiers (a-z, 0-9, _ "
            "after a letter); each key is the name the column gets, each value the file's",
        ),
        (
            {"data": {"csv": {"columns": {"date": "Date"}}}},
            "data.csv.columns: 'date' and 'ticker' name the date and ticker columns; map them "
            "with data.csv.date_column and data.csv.ticker_column",
        ),
        (
            {"data": {"csv": {"columns": {}}}},
            "data.csv.columns is empty: map at least one numeric column",
        ),
        (
            {"data": {"csv": {"columns": {"close": "date"}}}},
            "data.csv: the file columns ['date'] are used twice among date_column, ticker_column "
            "and columns; map each file column once",
        ),
        (
            {"data": {"csv": {"large_gap": 1}}},
            "data.csv.large_gap = 1: Input should be greater than 1",
        ),
        (
            {"data": {"synthetic": {"kind": "chaos"}}},
            "data.synthetic.kind = 'chaos': Input should be 'sine', 'noisy_sine', 'noise', "
            "'damped', 'seasonal_trend' or 'random_walk'",
        ),
        (
            {"features": {"extra_columns": ["MSFT"]}},
            "features.extra_columns contains 'MSFT': write TICKER.column, e.g. MSFT.close",
        ),
        (
            {"features": {"extra_columns": ["MSFT.close"]}},
            "features.extra_columns contains 'MSFT.close': 'MSFT' is not loaded; add it to "
            "data.tickers (now ['AAPL'])",
        ),
        (
            {
                "data": {"tickers": ["AAPL", "MSFT"]},
                "features": {"extra_columns": ["MSFT.adj_close"]},
            },
            "features.extra_columns contains 'MSFT.adj_close': data.source = sample has no "
            "column 'adj_close'; choose from 'open', 'high', 'low', 'close' or 'volume'",
        ),
        (
            {"features": {"extra_columns": ["AAPL.close"]}},
            "features.extra_columns contains 'AAPL.close': that is the target itself, which is "
            "always an input",
        ),
        (
            {"features": {"extra_columns": ["AAPL.volume", "AAPL.volume"]}},
            "features.extra_columns = ['AAPL.volume', 'AAPL.volume']: list each column once",
        ),
        (
            {"features": {"join": "outer"}},
            "features.join = 'outer': Input should be 'exact' or 'inner'",
        ),
    ],
)
def test_bad_data_params_name_key_value_and_what_is_allowed(raw, message):
    assert error(raw) == message


def test_a_complete_synthetic_section():
    params = parse_params(
        {
            "data": {
                "source": "synthetic",
                "ticker": "noise",
                "target": "value",
                "synthetic": {"kind": "noise", "seed": 3},
            },
            "features": {"returns": False},
        }
    )
    assert params.data.columns == ("value",)
    assert params.data.all_tickers == ["noise"]


def test_csv_columns_define_the_targets_and_extra_inputs():
    params = parse_params(
        {
            "data": {
                "source": "csv",
                "ticker": "AAA",
                "tickers": ["AAA", "VOD.L"],
                "target": "price",
                "csv": {"columns": {"price": "Price", "turnover": "Turnover"}},
            },
            "features": {"extra_columns": ["VOD.L.price", "AAA.turnover"]},
        }
    )
    assert params.data.other_tickers == ["VOD.L"]
    # A ticker may hold dots: the column is what follows the last one.
    assert params.features.extra_inputs == [("VOD.L", "price"), ("AAA", "turnover")]
