"""Feature table: no look-ahead, exact lags / rolling statistics / returns, warm-up trimming."""

import math

import numpy as np
import pandas as pd
import pytest

from seqcast.data.features import make_features, warmup_rows
from seqcast.errors import SeqcastError

CONFIG = {"lags": 5, "rolling_windows": [3, 10], "returns": True}


def _features(prices, **overrides):
    config = {**CONFIG, **overrides}
    return make_features(prices, "close", **config)


def _bits(frame: pd.DataFrame) -> np.ndarray:
    """The raw bytes of a float table, so that equality means bit-for-bit equality."""
    return np.ascontiguousarray(frame.to_numpy(dtype="float64")).view(np.uint64)


def _hand_prices(close) -> pd.DataFrame:
    n = len(close)
    return pd.DataFrame(
        {
            "date": pd.bdate_range("2021-01-04", periods=n),
            "ticker": "HAND",
            "open": close,
            "high": close,
            "low": close,
            "close": np.asarray(close, dtype="float64"),
            "volume": np.arange(n),
        }
    )


@pytest.mark.parametrize("cut", [9, 60, 150, 198])
def test_no_look_ahead_rows_up_to_t_unchanged_when_the_future_changes(prices, cut):
    """Row t only uses data observed at or before t: rewriting the future changes nothing."""
    t = prices["date"].iloc[cut]
    before = _features(prices)

    future = prices["date"] > t
    changed = prices.copy()
    rng = np.random.default_rng(1)
    for column in ["open", "high", "low", "close"]:
        changed.loc[future, column] = changed.loc[future, column] * 7 + rng.normal(
            0, 50, future.sum()
        )
    changed.loc[future, "volume"] = 1
    after = _features(changed)

    assert before.index.equals(after.index)
    past = before.index <= t
    assert past.any()
    np.testing.assert_array_equal(_bits(before[past]), _bits(after[past]))
    # The change did reach the table after t, so the comparison above is not vacuous.
    assert not np.array_equal(_bits(before[~past]), _bits(after[~past]))


def test_lag_k_at_row_t_equals_value_at_row_t_minus_k(prices):
    table = _features(prices)
    close = prices["close"].to_numpy()
    skip = warmup_rows(**CONFIG)
    rows = np.arange(skip, len(prices))
    assert table.index.equals(pd.DatetimeIndex(prices["date"].iloc[rows]))
    np.testing.assert_array_equal(table["close"].to_numpy(), close[rows])
    for k in range(1, CONFIG["lags"] + 1):
        np.testing.assert_array_equal(table[f"close_lag_{k}"].to_numpy(), close[rows - k])


def test_lags_by_date_on_a_hand_made_series():
    table = make_features(_hand_prices([1, 2, 4, 7, 11, 16]), "close", 2, [], False)
    # Two lags: the first two rows are warm-up; each row holds (today, yesterday, day before).
    assert table.to_numpy().tolist() == [[4, 2, 1], [7, 4, 2], [11, 7, 4], [16, 11, 7]]
    assert list(table.columns) == ["close", "close_lag_1", "close_lag_2"]


def test_rolling_mean_and_std_over_trailing_window_including_current_row():
    """Window 3 over 1, 2, 4, 7, 11, 16; the std is the sample std (ddof=1, pandas' default)."""
    table = make_features(_hand_prices([1, 2, 4, 7, 11, 16]), "close", 0, [3], False)
    assert list(table.columns) == ["close", "close_rolling_mean_3", "close_rolling_std_3"]
    # Rows: [1,2,4] [2,4,7] [4,7,11] [7,11,16]
    expected_mean = [7 / 3, 13 / 3, 22 / 3, 34 / 3]
    # Sum of squared deviations / 2: 42/9/2, 114/9/2, 222/9/2, 366/9/2.
    expected_std = [math.sqrt(7 / 3), math.sqrt(19 / 3), math.sqrt(37 / 3), math.sqrt(61 / 3)]
    np.testing.assert_allclose(table["close_rolling_mean_3"], expected_mean, rtol=1e-12)
    np.testing.assert_allclose(table["close_rolling_std_3"], expected_std, rtol=1e-12)
    assert table["close"].tolist() == [4, 7, 11, 16]


def test_rolling_statistics_match_numpy_on_the_fixture(prices):
    table = _features(prices)
    close = prices["close"].to_numpy()
    skip = warmup_rows(**CONFIG)
    for window in CONFIG["rolling_windows"]:
        for offset, row in enumerate(range(skip, len(close))):
            trailing = close[row - window + 1 : row + 1]
            assert len(trailing) == window
            assert table[f"close_rolling_mean_{window}"].iloc[offset] == pytest.approx(
                trailing.mean(), rel=1e-10
            )
            assert table[f"close_rolling_std_{window}"].iloc[offset] == pytest.approx(
                trailing.std(ddof=1), rel=1e-8
            )


def test_one_day_return_is_the_percentage_change_from_the_previous_row():
    table = make_features(_hand_prices([1, 2, 4, 7, 11, 16]), "close", 0, [], True)
    assert list(table.columns) == ["close", "close_return_1"]
    np.testing.assert_allclose(table["close_return_1"], [1.0, 1.0, 0.75, 4 / 7, 5 / 11])


@pytest.mark.parametrize(
    ("lags", "rolling_windows", "returns", "expected"),
    [
        (5, [10], True, 9),
        (12, [3], False, 12),
        (0, [], True, 1),
        (0, [], False, 0),
        (2, [4, 7], False, 6),
        (1, [2], False, 1),
    ],
)
def test_warmup_rows_trimmed_exactly(prices, lags, rolling_windows, returns, expected):
    assert warmup_rows(lags, rolling_windows, returns) == expected
    table = make_features(prices, "close", lags, rolling_windows, returns)
    assert len(table) == len(prices) - expected
    assert table.index[0] == prices["date"].iloc[expected]
    assert table.index[-1] == prices["date"].iloc[-1]
    assert table.columns[0] == "close"
    assert not table.isna().any().any()


def test_shortest_series_gives_exactly_one_row(prices):
    skip = warmup_rows(**CONFIG)
    table = _features(prices.iloc[: skip + 1])
    assert len(table) == 1
    assert table.index[0] == prices["date"].iloc[skip]


def test_series_too_short_raises_a_clear_error(prices):
    skip = warmup_rows(**CONFIG)  # 9
    with pytest.raises(SeqcastError) as info:
        _features(prices.iloc[:skip])
    message = str(info.value)
    assert f"has {skip} rows" in message
    assert f"the {skip + 1} that" in message
    assert "features.lags" in message
    assert "features.rolling_windows" in message


def test_missing_price_raises_naming_the_date(prices):
    broken = prices.copy()
    broken.loc[100, "close"] = np.nan
    with pytest.raises(SeqcastError, match="missing values") as info:
        _features(broken)
    assert prices["date"].iloc[100].strftime("%Y-%m-%d") in str(info.value)


def test_other_target_column_and_float_dtype(prices):
    table = make_features(prices, "volume", 1, [], False)
    assert list(table.columns) == ["volume", "volume_lag_1"]
    assert (table.dtypes == "float64").all()
    np.testing.assert_array_equal(table["volume_lag_1"], prices["volume"].iloc[:-1].to_numpy())


@pytest.mark.parametrize("bad", [0.0, -0.5])
def test_returns_of_a_target_that_is_not_positive_is_a_clear_error(bad):
    """A percentage change from zero is infinite; synthetic series cross zero."""
    close = np.array([1.0, 2.0, bad, 3.0, bad, 4.0])
    with pytest.raises(SeqcastError) as info:
        make_features(_hand_prices(close), "close", 1, [], True)
    assert str(info.value) == (
        "features.returns = true: the one-day percentage change needs a positive close, but "
        "it is <= 0 on 2 dates (2021-01-06, 2021-01-08); set features.returns: false"
    )
    table = make_features(_hand_prices(close), "close", 1, [], False)
    assert table["close"].tolist() == [2.0, bad, 3.0, bad, 4.0]
