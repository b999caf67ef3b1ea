"""Forecasts past the last date: business-day dates, model choice on validation, rollout."""

import numpy as np
import pandas as pd
import pytest
from inmemory import Pipeline, sine

from seqcast.errors import SeqcastError
from seqcast.forecasting.forecaster import PriceForecaster, future_business_days
from seqcast.forecasting.selection import choose_model, p_better_than_naive, validation_rmse
from seqcast.models.baselines import LinearForecaster, NaiveForecaster
from seqcast.params import parse_params


def test_future_dates_are_the_business_days_after_the_last_date():
    friday = pd.Timestamp("2013-03-01")
    dates = future_business_days(friday, 6)
    assert [d.strftime("%a %m-%d") for d in dates] == [
        "Mon 03-04",
        "Tue 03-05",
        "Wed 03-06",
        "Thu 03-07",
        "Fri 03-08",
        "Mon 03-11",
    ]
    assert future_business_days(pd.Timestamp("2013-03-02"), 1)[0] == pd.Timestamp("2013-03-04")


def test_best_model_is_the_lowest_validation_error_first_listed_on_ties():
    assert choose_model("best", {"naive": 1.0, "gru": 0.7, "lstm": 0.9}) == "gru"
    assert choose_model("best", {"naive": 0.5, "linear": 0.5}) == "naive"
    assert choose_model("lstm", {"naive": 0.5, "lstm": 0.9}) == "lstm"
    with pytest.raises(SeqcastError, match=r"forecast.model = 'gru': choose 'best' or one of"):
        choose_model("gru", {"naive": 0.5})


def test_best_passes_over_a_model_that_beats_naive_on_validation_only_by_chance():
    """On a random walk every model looks better than naive on some validation days; with
    forecast.significance only a significant edge counts."""
    rng = np.random.default_rng(3)

    def rms(e):
        return float(np.sqrt(np.mean(e**2)))

    naive = rng.normal(0, 1, 250)  # naive's errors: the walk's steps
    other = rng.normal(0, 1, 250)
    lucky = other * 0.99 * rms(naive) / rms(other)  # 1% lower RMSE, by chance alone
    gru = naive * 0.7 + rng.normal(0, 0.05, 250)  # a real, consistent edge
    errors = {"naive": naive, "lucky": lucky, "gru": gru}
    p_better = p_better_than_naive(errors)
    scores = {n: rms(e) for n, e in errors.items()}
    assert p_better["lucky"] > 0.3 and p_better["gru"] < 1e-6
    assert choose_model("best", scores, p_better, 0.05) == "gru"

    del scores["gru"]
    assert choose_model("best", scores, p_better, 0.05) == "naive"
    assert choose_model("best", scores, p_better, None) == "lucky"  # the rule off
    assert choose_model("best", scores) == "lucky"
    assert p_better_than_naive({"gru": gru}) == {}  # no naive: nothing to test against


def test_forecast_model_must_be_enabled():
    with pytest.raises(SeqcastError, match=r"forecast.model = 'gru': choose 'best'"):
        parse_params({"models": {"enabled": ["naive", "linear"]}, "forecast": {"model": "gru"}})
    assert parse_params({"forecast": {"model": "linear", "days": 5}}).forecast.days == 5


def test_forecast_model_may_be_a_registered_model_by_alias_or_version():
    for uri in ("models:/seqcast-AAPL@champion", "models:/seqcast-AAPL/3"):
        assert parse_params({"forecast": {"model": uri}}).forecast.model == uri
    with pytest.raises(SeqcastError, match=r"models:/<name>@<alias> or models:/<name>/<version>"):
        parse_params({"forecast": {"model": "models:/seqcast-AAPL"}})


def test_validation_rmse_is_in_price_units_on_the_validation_windows():
    rng = np.random.default_rng(0)
    pipe = Pipeline(100 + np.cumsum(rng.normal(0, 1, 150)), transform="difference")
    naive = NaiveForecaster()
    naive.fit(pipe.train, pipe.val)
    prices = pipe.table["close"]
    val_targets = prices.loc[pipe.val.target_dates].to_numpy()
    val_origins = prices.loc[pipe.val.origin_dates].to_numpy()
    expected = np.sqrt(np.mean((val_targets - val_origins) ** 2))
    assert validation_rmse(naive, pipe.val, pipe.table, pipe.prep) == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("steps", [1, 4])
def test_forecast_beyond_the_last_date_continues_a_linear_recurrence(steps):
    """Fit on the sine's first 200 days (one-step, or four outputs per call), forecast the
    next 12 business days: the continuation of the sine."""
    pipe = Pipeline(sine(200), steps=steps)
    model = LinearForecaster(alpha=1e-12)
    model.fit(pipe.train, pipe.val)
    frame = PriceForecaster("linear", pipe.prep, model).predict(pipe.table["close"], 12)
    assert list(frame.columns) == ["step", "forecast"]  # no intervals: none calibrated
    assert frame["step"].tolist() == list(range(1, 13))
    assert frame.index[0] == pipe.table.index[-1] + pd.offsets.BDay(1)
    np.testing.assert_allclose(frame["forecast"], sine(212)[200:], atol=1e-6)


def test_naive_forecast_beyond_the_last_date_is_flat():
    rng = np.random.default_rng(1)
    pipe = Pipeline(100 + np.cumsum(rng.normal(0, 1, 150)))
    naive = NaiveForecaster()
    naive.fit(pipe.train, pipe.val)
    frame = PriceForecaster("naive", pipe.prep, naive).predict(pipe.table["close"], 5)
    np.testing.assert_allclose(frame["forecast"], pipe.table["close"].iloc[-1], 1e-14)
