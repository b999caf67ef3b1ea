"""Target transforms: encoding against hand-computed values, exact inversion, fit on train only."""

import math

import numpy as np
import pandas as pd
import pytest
from inmemory import decoding

from seqcast.errors import SeqcastError
from seqcast.forecasting.multistep import predict_test
from seqcast.models.baselines import NaiveForecaster
from seqcast.prep.scaling import MinMaxScaler
from seqcast.prep.splitting import split_labels
from seqcast.prep.transforms import TargetCoder, encode_windows, fit_coder, window_prices
from seqcast.prep.windows import make_windows

ORIGIN = np.array([100.0, 110.0, 99.0])
TARGET = np.array([110.0, 99.0, 99.0])


def test_difference_encodes_the_change_since_the_origin_over_s():
    coder = TargetCoder("difference", 0.0, 1.0, change_scale=(2.0,))
    # changes 10, -11, 0; divided by s = 2
    np.testing.assert_array_equal(coder.encode(ORIGIN, TARGET), [5.0, -5.5, 0.0])
    np.testing.assert_array_equal(coder.decode(np.array([5.0, -5.5, 0.0]), ORIGIN), TARGET)


def test_log_return_encodes_the_log_of_the_price_ratio_over_s():
    coder = TargetCoder("log_return", 0.0, 1.0, change_scale=(0.5,))
    expected = [math.log(1.1) / 0.5, math.log(0.9) / 0.5, 0.0]
    np.testing.assert_allclose(coder.encode(ORIGIN, TARGET), expected, rtol=1e-15)
    # decode: 100 * exp(0.5 * 2 log 1.1) = 110, 110 * exp(log 0.9) = 99, 99 * exp(0) = 99
    np.testing.assert_allclose(coder.decode(np.array(expected), ORIGIN), TARGET, rtol=1e-14)


def test_level_encodes_the_scaled_price_with_the_target_columns_scaler():
    coder = TargetCoder("level", level_offset=90.0, level_scale=20.0)
    np.testing.assert_array_equal(coder.encode(ORIGIN, TARGET), [1.0, 0.45, 0.45])
    np.testing.assert_array_equal(coder.decode(np.array([1.0, 0.45, 0.5]), ORIGIN), [110, 99, 100])


@pytest.mark.parametrize("transform", ["level", "difference", "log_return"])
def test_decode_inverts_encode_for_one_and_several_steps(transform):
    rng = np.random.default_rng(0)
    origin = 50 + rng.random(30) * 10
    target = origin[:, None] * np.exp(rng.normal(0, 0.05, (30, 4)))  # (n, steps)
    scaler = MinMaxScaler().fit(np.column_stack([origin, origin * 2]))
    coder = fit_coder(transform, scaler, 0, origin, target)
    np.testing.assert_allclose(coder.decode(coder.encode(origin, target), origin), target, 1e-13)
    one_step = fit_coder(transform, scaler, 0, origin, target[:, 0])
    encoded = one_step.encode(origin, target[:, 0])
    assert encoded.shape == (30,)
    np.testing.assert_allclose(one_step.decode(encoded, origin), target[:, 0], rtol=1e-13)


def test_change_scale_is_the_root_mean_square_per_step_of_the_training_changes():
    origin = np.array([10.0, 20.0])
    target = np.array([[13.0, 6.0], [16.0, 28.0]])  # step 1: +3, -4; step 2: -4, +8
    coder = fit_coder("difference", MinMaxScaler().fit(origin[:, None]), 0, origin, target)
    assert coder.change_scale == (math.sqrt(12.5), math.sqrt(40.0))
    np.testing.assert_allclose(
        coder.encode(origin, target),
        [[3 / math.sqrt(12.5), -4 / math.sqrt(40)], [-4 / math.sqrt(12.5), 8 / math.sqrt(40)]],
    )
    # The level fields come from the target column of the input scaler: min 10, range 10.
    assert (coder.level_offset, coder.level_scale) == (10.0, 10.0)


def test_coder_state_round_trips_through_json_exactly():
    coder = TargetCoder("log_return", 0.1, 0.3, change_scale=(0.017, 1 / 3))
    assert TargetCoder.from_dict(coder.to_dict()) == coder


def test_log_return_of_a_non_positive_price_is_a_clear_error():
    with pytest.raises(SeqcastError, match=r"target.transform = 'log_return' needs prices above 0"):
        fit_coder("log_return", MinMaxScaler().fit(ORIGIN[:, None]), 0, ORIGIN, TARGET * 0)


def test_a_constant_training_target_cannot_be_scaled():
    with pytest.raises(SeqcastError, match="never changes over the training windows"):
        fit_coder("difference", MinMaxScaler().fit(ORIGIN[:, None]), 0, ORIGIN, ORIGIN)


def _priced_table(n_rows: int = 40) -> tuple[pd.DataFrame, pd.DataFrame, MinMaxScaler]:
    """A price table (close, aux) and its min-max scaled copy, scaler fit on train rows."""
    dates = pd.bdate_range("2023-01-02", periods=n_rows, name="date")
    close = 100 + np.cumsum(np.where(np.arange(n_rows) % 3 == 0, -2.0, 1.5))
    table = pd.DataFrame({"close": close, "aux": close * 3}, index=dates)
    table["split"] = split_labels(n_rows, 0.5, 0.25)
    train = table["split"] == "train"
    scaler = MinMaxScaler().fit(table.loc[train, ["close", "aux"]].to_numpy())
    scaled = table.copy()
    scaled[["close", "aux"]] = scaler.transform(table[["close", "aux"]].to_numpy())
    return table, scaled, scaler


def test_level_coder_matches_the_scaled_target_column_to_the_last_digit():
    """The default (level) target keeps the exact y the pipeline had before transforms."""
    table, scaled, scaler = _priced_table()
    windows = make_windows(scaled, "close", 4, 1)
    coder = fit_coder("level", scaler, 0, *window_prices(windows["train"], table["close"]))
    for w in windows.values():
        origin, target = window_prices(w, table["close"])
        assert coder.encode(origin, target).tobytes() == w.y.tobytes()
        assert encode_windows(w, coder, table["close"]) is w


@pytest.mark.parametrize("transform", ["difference", "log_return"])
def test_windows_encoded_as_changes_decode_to_the_actual_prices(transform):
    table, scaled, scaler = _priced_table()
    levels = table["close"]
    windows = make_windows(scaled, "close", 4, 1)
    coder = fit_coder(transform, scaler, 0, *window_prices(windows["train"], levels))
    for split, w in windows.items():
        encoded = encode_windows(w, coder, levels)
        assert encoded.target_transform == transform
        assert encoded.x.tobytes() == w.x.tobytes()  # inputs untouched
        origin = levels.loc[w.origin_dates].to_numpy()
        actual = levels.loc[w.target_dates].to_numpy()
        decoded = coder.decode(encoded.y, origin)
        np.testing.assert_allclose(decoded, actual, rtol=1e-13, err_msg=split)


@pytest.mark.parametrize("transform", ["difference", "log_return"])
def test_coder_learns_from_training_windows_only(transform):
    table, scaled, scaler = _priced_table()
    windows = make_windows(scaled, "close", 4, 1)
    coder = fit_coder(transform, scaler, 0, *window_prices(windows["train"], table["close"]))
    changed = table["close"].copy()
    changed[table["split"] != "train"] *= 7.0  # later prices change wildly
    again = fit_coder(transform, scaler, 0, *window_prices(windows["train"], changed))
    assert again == coder


@pytest.mark.parametrize("transform", ["difference", "log_return"])
def test_naive_under_a_change_transform_still_forecasts_the_origin_price(transform):
    table, scaled, scaler = _priced_table()
    levels = table["close"]
    windows = make_windows(scaled, "close", 4, 1)
    coder = fit_coder(transform, scaler, 0, *window_prices(windows["train"], levels))
    encoded = {split: encode_windows(w, coder, levels) for split, w in windows.items()}
    naive = NaiveForecaster()
    naive.fit(encoded["train"], encoded["val"])
    np.testing.assert_array_equal(naive.predict(encoded["test"].x), 0.0)  # no change
    predictions = predict_test(naive, encoded["test"], table, decoding(coder))
    np.testing.assert_array_equal(predictions["predicted"], predictions["naive"])
