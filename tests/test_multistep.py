"""Multi-step forecasts: rebuilt features, recursive rollout, direct heads, dated targets."""

import numpy as np
import pytest
from building import build
from inmemory import FEATURES, LENGTH, Pipeline, prices_frame, sine

from seqcast.data.features import FeatureSpec, make_features, warmup_rows
from seqcast.errors import SeqcastError
from seqcast.forecasting.multistep import forecasts_by_step, predict_test, recursive_forecast
from seqcast.models import load_model
from seqcast.models.baselines import LinearForecaster, NaiveForecaster
from seqcast.params import parse_params


def test_rebuilt_features_equal_the_feature_table():
    rng = np.random.default_rng(0)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 80)))
    table = make_features(
        prices_frame(close), "close", lags=3, rolling_windows=[4, 7], returns=True
    )
    columns = list(table.columns)
    skip = warmup_rows(3, [4, 7], True)
    spec = FeatureSpec("close", 3, (4, 7), True)
    assert list(spec.kinds()) == columns
    assert spec.history_needed(columns) == skip == 6
    # Windows ending on raw days 30 and 79, rebuilt from the prices alone.
    ends = np.array([30, 79])
    history = np.stack([close[end - LENGTH - skip + 1 : end + 1] for end in ends])
    rebuilt = spec.rebuild(history, columns, LENGTH)
    for window, end in zip(rebuilt, ends, strict=True):
        expected = table.iloc[end - skip - LENGTH + 1 : end - skip + 1].to_numpy()
        np.testing.assert_allclose(window, expected, rtol=1e-12, atol=1e-12)


def test_a_feature_that_is_not_a_function_of_the_target_cannot_be_rebuilt():
    with pytest.raises(SeqcastError, match=r"feature column 'volume_lag_1' is not a function of"):
        FeatureSpec("close", 1, (), False).rebuild(np.ones((1, 20)), ["close", "volume_lag_1"], 5)


def test_too_short_a_history_is_a_clear_error():
    with pytest.raises(SeqcastError, match="needs 8 days of prices before the forecast origin"):
        FeatureSpec("close", 3, (), False).rebuild(np.ones((2, 7)), ["close", "close_lag_3"], 5)


@pytest.mark.parametrize("transform", ["level", "difference", "log_return"])
def test_recursive_naive_forecast_is_the_last_value_repeated(transform):
    rng = np.random.default_rng(1)
    pipe = Pipeline(100 + np.cumsum(rng.normal(0, 1, 120)), transform=transform)
    naive = NaiveForecaster()
    naive.fit(pipe.train, pipe.val)
    frame = pipe.forecasts(naive, steps=5)
    np.testing.assert_allclose(frame["predicted"], frame["naive"], rtol=1e-14)
    assert set(frame["step"]) == {1, 2, 3, 4, 5}


def test_recursive_linear_forecast_of_a_linear_recurrence_is_exact():
    """The sine obeys an affine recurrence that ridge recovers; rolling it out 15 days
    reproduces the true series, which needs every rebuilt feature to be right."""
    pipe = Pipeline(sine(200))
    model = LinearForecaster(alpha=1e-12)
    model.fit(pipe.train, pipe.val)
    frame = pipe.forecasts(model, steps=15)
    assert frame["step"].max() == 15
    np.testing.assert_allclose(frame["predicted"], frame["actual"], atol=1e-6)
    # The naive forecast is far off on a sine: the test is not vacuous.
    assert np.abs(frame["naive"] - frame["actual"]).max() > 0.5


def test_rollout_windows_are_the_windows_the_true_series_would_give():
    """With an exact model, the window fed at step k from origin i is the stored window of
    origin i + k - 1: lags, rolling mean / std and returns are all rebuilt correctly."""
    pipe = Pipeline(sine(200))
    model = LinearForecaster(alpha=1e-12)
    model.fit(pipe.train, pipe.val)
    seen = []
    original = model.predict
    model.predict = lambda x: seen.append(x) or original(x)
    pipe.forecasts(model, steps=4)
    assert len(seen) == 4
    assert seen[0] is pipe.test.x  # step 1 reads the stored window itself
    n = len(pipe.test)
    for k, x in enumerate(seen[1:], start=1):
        np.testing.assert_allclose(x[: n - k], pipe.test.x[k:], atol=1e-7, err_msg=f"step {k + 1}")


def test_step_one_of_a_recursive_forecast_is_the_one_step_forecast_to_the_digit():
    rng = np.random.default_rng(2)
    pipe = Pipeline(100 + np.cumsum(rng.normal(0, 1, 150)), transform="difference")
    model = LinearForecaster(alpha=0.1)
    model.fit(pipe.train, pipe.val)
    multi = pipe.forecasts(model, steps=4)
    single = predict_test(model, pipe.test, pipe.table, pipe.prep)
    first = multi[multi["step"] == 1]
    assert first.index.equals(single.index)
    assert first["predicted"].to_numpy().tobytes() == single["predicted"].to_numpy().tobytes()


def test_multi_step_targets_are_aligned_with_their_dates():
    rng = np.random.default_rng(3)
    pipe = Pipeline(100 + np.cumsum(rng.normal(0, 1, 120)))
    naive = NaiveForecaster()
    naive.fit(pipe.train, pipe.val)
    steps = 4
    frame = pipe.forecasts(naive, steps=steps)
    table = pipe.table
    origin_rows = table.index.get_indexer(frame["origin_date"])
    target_rows = table.index.get_indexer(frame.index)
    # Each target is `step` trading days after its origin, with that day's price.
    np.testing.assert_array_equal(target_rows - origin_rows, frame["step"])
    np.testing.assert_array_equal(frame["actual"], table["close"].to_numpy()[target_rows])
    np.testing.assert_array_equal(frame["naive"], table["close"].to_numpy()[origin_rows])
    # Every test origin has step 1; the last origins lose the steps past the end of data.
    test_rows = np.flatnonzero(table["split"] == "test")
    n_origins = len(pipe.test)
    assert (frame["step"] == 1).sum() == n_origins == len(test_rows)
    for step in range(1, steps + 1):
        assert (frame["step"] == step).sum() == n_origins - step + 1
    assert frame.index.max() == table.index[-1]
    assert frame.index.min() == table.index[test_rows[0]]  # no target before the test split


def test_forecasts_do_not_read_prices_after_their_origin():
    rng = np.random.default_rng(4)
    close = 100 + np.cumsum(rng.normal(0, 1, 120))
    pipe = Pipeline(close, transform="difference")
    model = LinearForecaster(alpha=0.1)
    model.fit(pipe.train, pipe.val)
    before = pipe.forecasts(model, steps=5)
    first_origin = before["origin_date"].iloc[0]
    raw_row = pipe.features.index.get_loc(first_origin) + warmup_rows(**FEATURES)
    changed_close = close.copy()
    changed_close[raw_row + 1 :] *= 3.0
    changed = Pipeline(changed_close, transform="difference")
    # The same model, scaler and coder: only the prices after the first origin differ.
    after = forecasts_by_step(model, changed.test, changed.table, pipe.prep, steps=5)
    mine = before["origin_date"] == first_origin
    assert (
        before.loc[mine, "predicted"].to_numpy().tobytes()
        == after.loc[after["origin_date"] == first_origin, "predicted"].to_numpy().tobytes()
    )


def test_direct_windows_hold_every_step_inside_their_split():
    pipe = Pipeline(sine(120), steps=3)
    for split, w in (("train", pipe.train), ("val", pipe.val)):
        assert w.y.shape == w.target_dates.shape == (len(w), 3)
        rows = pipe.table.index.get_indexer(w.target_dates.ravel()).reshape(-1, 3)
        origins = pipe.table.index.get_indexer(w.origin_dates)
        np.testing.assert_array_equal(rows - origins[:, None], [[1, 2, 3]] * len(w))
        assert (pipe.table["split"].to_numpy()[rows] == split).all()
        np.testing.assert_array_equal(
            pipe.coder.decode(w.y, None), pipe.table["close"].to_numpy()[rows]
        )


@pytest.mark.parametrize("transform", ["level", "difference"])
def test_direct_linear_model_predicts_every_step_of_a_linear_recurrence(transform):
    pipe = Pipeline(sine(200), transform=transform, steps=5)
    model = LinearForecaster(alpha=1e-12)
    model.fit(pipe.train, pipe.val)
    assert model.predict(pipe.test.x).shape == (len(pipe.test), 5)
    frame = pipe.forecasts(model, steps=5)
    np.testing.assert_allclose(frame["predicted"], frame["actual"], atol=1e-6)
    # Ten days from a five-output model: two blocks, the second from the first's output.
    history = np.stack([sine(200)[60 - 30 : 61]])  # origin: raw day 60
    ten = recursive_forecast(model, pipe.prep, history, 10)
    np.testing.assert_allclose(ten[0], sine(71)[61:], atol=1e-6)


def test_direct_naive_repeats_the_last_value_for_every_step():
    pipe = Pipeline(sine(120), steps=3)
    naive = NaiveForecaster()
    naive.fit(pipe.train, pipe.val)
    predicted = naive.predict(pipe.test.x)
    assert predicted.shape == (len(pipe.test), 3)
    np.testing.assert_array_equal(predicted, np.repeat(pipe.test.x[:, -1, :1], 3, axis=1))


@pytest.mark.parametrize("name", ["naive", "linear", "gru"])
def test_multi_output_models_save_and_load(tmp_path, name):
    pipe = Pipeline(sine(150), transform="difference", steps=4)
    params = parse_params(
        {"train": {"max_epochs": 2, "batch_size": 32}, "models": {"gru": {"hidden_size": 4}}}
    )
    model = build(name, params)
    assert model.multi_output
    model.fit(pipe.train, pipe.val)
    expected = model.predict(pipe.test.x)
    assert expected.shape == (len(pipe.test), 4)
    model.save(tmp_path)
    assert np.array_equal(load_model(tmp_path).predict(pipe.test.x), expected)
