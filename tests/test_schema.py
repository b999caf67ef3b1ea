"""The raw-table schema that every source meets: each rule, and messages naming the rows."""

import numpy as np
import pandas as pd
import pytest

from seqcast.data.sources import schema
from seqcast.errors import SeqcastError


def bars(n: int = 4, ticker: str = "T") -> pd.DataFrame:
    close = 10.0 + np.arange(n)
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq="D"),
            "ticker": ticker,
            "open": close - 0.5,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": np.arange(n) * 10,
        }
    )


def test_a_clean_table_passes():
    assert schema.problems(bars()) == []
    schema.validate(bars(), "test")


def test_a_bar_whose_high_equals_its_close_passes_despite_adjustment_rounding():
    table = bars(1)
    ratio = 0.987654321  # adj_close / close as yfinance applies it to open, high and low only
    table[["open", "high", "low"]] = [[9.5 * ratio, 11.0 * ratio, 9.0 * ratio]]
    table["close"] = 11.0 * ratio
    table.loc[0, "high"] = np.nextafter(table.loc[0, "close"], 0)  # one rounding step below
    assert schema.problems(table) == []


@pytest.mark.parametrize(
    ("column", "rows", "value", "message"),
    [
        ("close", [1, 3], 0.0, "close <= 0 in 2 rows of T: 2024-01-02, 2024-01-04"),
        ("open", [2], -1.0, "open <= 0 in 1 row of T: 2024-01-03"),
        ("volume", [0], -1, "volume < 0 in 1 row of T: 2024-01-01"),
        ("high", [2], 11.5, "high < max(open, close) in 1 row of T: 2024-01-03"),
        ("low", [0], 9.9, "low > min(open, close) in 1 row of T: 2024-01-01"),
        ("close", [2], np.nan, "missing values in close in 1 row of T: 2024-01-03"),
        ("close", [1], np.inf, "infinite values in close in 1 row of T: 2024-01-02"),
    ],
)
def test_each_value_rule_names_its_rows(column, rows, value, message):
    table = bars()
    table[column] = table[column].astype("float64")
    table.loc[rows, column] = value
    found = schema.problems(table)
    assert message in found


def test_validate_joins_every_problem_into_one_error():
    table = bars()
    table.loc[0, "close"] = -1.0
    table.loc[3, "volume"] = -5
    with pytest.raises(SeqcastError) as info:
        schema.validate(table, "data.source = sample")
    assert str(info.value) == (
        "data.source = sample: the raw table breaks its schema: close <= 0 in 1 row of T: "
        "2024-01-01; volume < 0 in 1 row of T: 2024-01-04; low > min(open, close) in 1 row "
        "of T: 2024-01-01"
    )


def test_duplicated_and_unsorted_dates_per_ticker():
    table = bars()
    table.loc[2, "date"] = table.loc[1, "date"]
    assert schema.problems(table) == ["duplicated dates in 1 row of T: 2024-01-02"]
    table = bars().iloc[[0, 2, 1, 3]]
    assert schema.problems(table) == ["dates earlier than the row before in 1 row of T: 2024-01-02"]


def test_the_same_date_under_two_tickers_is_fine():
    assert schema.problems(pd.concat([bars(ticker="A"), bars(ticker="B")])) == []


def test_long_lists_of_rows_are_cut_and_counted():
    table = bars(12)
    table["close"] = -1.0
    found = [p for p in schema.problems(table) if p.startswith("close")]
    assert found == [
        "close <= 0 in 12 rows of T: 2024-01-01, 2024-01-02, 2024-01-03, 2024-01-04, "
        "2024-01-05 and 7 more"
    ]


def test_non_price_columns_may_be_negative():
    table = pd.DataFrame(
        {"date": pd.date_range("2024-01-01", periods=3), "ticker": "S", "value": [-1.0, 0, 1]}
    )
    assert schema.problems(table) == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"ticker": ["T"], "close": [1.0]}), "no date column"),
        (
            pd.DataFrame({"date": ["2024-01-01"], "ticker": ["T"], "close": [1.0]}),
            "the date column has dtype str, not datetime",
        ),
        (
            pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "ticker": ["T"]}),
            "no numeric columns besides date and ticker",
        ),
        (
            pd.DataFrame({"date": pd.to_datetime(["2024-01-01"]), "ticker": ["T"], "x": ["a"]}),
            "columns ['x'] are not numeric",
        ),
        (
            pd.DataFrame({"date": pd.to_datetime([]), "ticker": [], "close": []}),
            "no rows",
        ),
    ],
    ids=["no-date", "text-dates", "no-values", "text-values", "empty"],
)
def test_structural_problems(table, message):
    assert schema.problems(table) == [message]


def test_large_gaps_relative_to_the_median_spacing():
    dates = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-10"]))
    assert schema.large_gaps(dates, 5) == [(pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-10"))]
    assert schema.large_gaps(dates, 7) == []
    assert schema.large_gaps(dates.iloc[:1], 5) == []
