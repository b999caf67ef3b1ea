"""Several tickers: the target's rows, extra input columns aligned by date (never by position),
and a missing date that is an error (join exact) or a counted drop (join inner)."""

import numpy as np
import pandas as pd
import pytest

from seqcast.data.alignment import join_extra_columns, ticker_rows
from seqcast.data.features import make_features
from seqcast.errors import SeqcastError


def raw_table() -> pd.DataFrame:
    """AAA trades on 6 days; BBB skips 2024-01-03 and adds 2024-01-09, in shuffled order."""
    aaa = pd.DataFrame(
        {
            "date": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
            ),
            "ticker": "AAA",
            "close": [10.0, 11.0, 12.0, 13.0, 14.0, 15.0],
            "volume": [1, 2, 3, 4, 5, 6],
        }
    )
    bbb = pd.DataFrame(
        {
            "date": pd.to_datetime(
                ["2024-01-09", "2024-01-08", "2024-01-05", "2024-01-04", "2024-01-02", "2024-01-01"]
            ),
            "ticker": "BBB",
            "close": [109.0, 108.0, 105.0, 104.0, 102.0, 101.0],
            "volume": [90, 80, 50, 40, 20, 10],
        }
    )
    return pd.concat([aaa, bbb], ignore_index=True)


def features(raw: pd.DataFrame) -> pd.DataFrame:
    return make_features(ticker_rows(raw, "AAA"), "close", 1, [], False)


def test_ticker_rows_picks_one_ticker_in_date_order():
    rows = ticker_rows(raw_table(), "BBB")
    assert rows["date"].is_monotonic_increasing
    assert rows["close"].tolist() == [101.0, 102.0, 104.0, 105.0, 108.0, 109.0]
    assert rows.index.tolist() == list(range(6))


def test_unknown_ticker_in_the_raw_table():
    with pytest.raises(SeqcastError) as info:
        ticker_rows(raw_table(), "CCC")
    assert str(info.value) == (
        "data.ticker = 'CCC': not in the raw table, which holds AAA, BBB; rerun the download stage"
    )


def test_no_extra_columns_leaves_the_table_unchanged():
    table = features(raw_table())
    joined = join_extra_columns(table, raw_table(), [], "exact")
    assert joined.table is table
    assert len(joined.dropped) == 0


def test_extra_columns_are_aligned_by_date_not_by_position():
    raw = raw_table()
    raw = raw[~((raw["ticker"] == "BBB") & (raw["date"] == "2024-01-09"))]
    raw = pd.concat([raw, raw_table().iloc[[8]].assign(date=pd.Timestamp("2024-01-03"))])
    table = features(raw)  # the first row is the lag's warm-up
    joined = join_extra_columns(table, raw, [("BBB", "close"), ("AAA", "volume")], "exact")
    assert list(joined.table.columns) == ["close", "close_lag_1", "BBB.close", "AAA.volume"]
    assert joined.table.index.strftime("%m-%d").tolist() == [
        "01-02",
        "01-03",
        "01-04",
        "01-05",
        "01-08",
    ]
    assert joined.table["BBB.close"].tolist() == [102.0, 105.0, 104.0, 105.0, 108.0]
    assert joined.table["AAA.volume"].tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert joined.table["close"].tolist() == [11.0, 12.0, 13.0, 14.0, 15.0]


def test_a_missing_date_is_an_error_by_default():
    with pytest.raises(SeqcastError) as info:
        join_extra_columns(features(raw_table()), raw_table(), [("BBB", "close")], "exact")
    assert str(info.value) == (
        "features.extra_columns have no value on some dates of the target: BBB.close on 1 of 5 "
        "dates: 2024-01-03; set features.join: inner to keep only the dates that every column has"
    )


def test_inner_join_drops_and_reports_the_dates():
    joined = join_extra_columns(features(raw_table()), raw_table(), [("BBB", "close")], "inner")
    assert joined.dropped.strftime("%Y-%m-%d").tolist() == ["2024-01-03"]
    assert joined.table.index.strftime("%m-%d").tolist() == ["01-02", "01-04", "01-05", "01-08"]
    # Lags are taken before the join: the row of 01-04 still lags to 01-03, its true day before.
    assert joined.table.loc["2024-01-04", "close_lag_1"] == 12.0
    assert joined.table["BBB.close"].tolist() == [102.0, 104.0, 105.0, 108.0]


def test_inner_join_without_a_common_date():
    raw = raw_table()
    raw.loc[raw["ticker"] == "BBB", "date"] += pd.Timedelta(days=365)
    with pytest.raises(SeqcastError, match=r"^features.join = inner: the target and BBB.close "):
        join_extra_columns(features(raw), raw, [("BBB", "close")], "inner")


def test_the_extra_column_is_a_float_input_like_the_others():
    joined = join_extra_columns(features(raw_table()), raw_table(), [("AAA", "volume")], "exact")
    assert (joined.table.dtypes == np.float64).all()
