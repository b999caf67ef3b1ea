"""PriceForecaster: dated prices in, dated price forecasts out, one object from fit to load."""

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from inmemory import Pipeline
from repo_helpers import ROOT

from seqcast.errors import SeqcastError
from seqcast.forecasting.forecaster import PriceForecaster
from seqcast.models.baselines import LinearForecaster
from seqcast.params import parse_params

BASE = yaml.safe_load((ROOT / "params.yaml").read_text())


def _params(**train):
    raw = copy.deepcopy(BASE)
    raw["train"].update({"max_epochs": 3, "patience": 2, **train})
    return parse_params(raw)


def _history(n=400, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    return pd.DataFrame(
        {"close": close}, index=pd.bdate_range("2020-01-01", periods=n, name="date")
    )


def test_naive_forecasts_the_last_price_on_the_next_business_days():
    history = _history()
    forecaster = PriceForecaster.fit(history, "naive", **_params().fit_sections("naive"))
    forecast = forecaster.predict(history, steps=5)
    assert list(forecast["step"]) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(forecast["forecast"], history["close"].iloc[-1])
    assert list(forecast.index) == list(pd.bdate_range(history.index[-1], periods=6)[1:])


@pytest.mark.parametrize("name", ["linear", "gru"])
def test_a_saved_forecaster_loads_and_forecasts_bit_for_bit(tmp_path, name):
    history = _history()
    forecaster = PriceForecaster.fit(history, name, **_params().fit_sections(name))
    forecaster.save(tmp_path / "f")
    loaded = PriceForecaster.load(tmp_path / "f")
    pd.testing.assert_frame_equal(loaded.predict(history, 7), forecaster.predict(history, 7))
    assert loaded.min_history == forecaster.min_history


def test_from_any_test_origin_it_forecasts_what_the_evaluation_scores():
    """The evaluation rolls the stored test windows forward; the forecaster rebuilds them
    from prices alone. Cut the history at a test origin: the same forecasts."""
    rng = np.random.default_rng(3)
    pipe = Pipeline(100 + np.cumsum(rng.normal(0, 1, 300)), transform="difference")
    model = LinearForecaster(alpha=1.0)
    model.fit(pipe.train, pipe.val)
    scored = pipe.forecasts(model, 6)
    forecaster = PriceForecaster("linear", pipe.prep, model)
    prices = pipe.table["close"]
    for origin in scored["origin_date"].unique()[[0, 17, -7]]:
        expected = scored[scored["origin_date"] == origin]
        got = forecaster.predict(prices.loc[:origin], 6)
        np.testing.assert_allclose(got["forecast"], expected["predicted"], rtol=1e-12)
        assert got["step"].tolist() == expected["step"].tolist()


def test_a_date_column_and_a_series_work_like_a_date_index():
    history = _history()
    forecaster = PriceForecaster.fit(history, "linear", **_params().fit_sections("linear"))
    by_index = forecaster.predict(history, 3)
    pd.testing.assert_frame_equal(forecaster.predict(history.reset_index(), 3), by_index)
    pd.testing.assert_frame_equal(forecaster.predict(history["close"], 3), by_index)


def test_bad_histories_fail_with_one_clear_message(tmp_path):
    history = _history()
    forecaster = PriceForecaster.fit(history, "naive", **_params().fit_sections("naive"))
    with pytest.raises(SeqcastError, match="forecasts from the last"):
        forecaster.predict(history.iloc[:5], 3)
    with pytest.raises(SeqcastError, match="no 'close' column"):
        forecaster.predict(history.rename(columns={"close": "price"}), 3)
    with pytest.raises(SeqcastError, match="unique and increasing"):
        forecaster.predict(history.iloc[::-1], 3)
    broken = history.copy()
    broken.iloc[-3, 0] = np.nan
    with pytest.raises(SeqcastError, match="missing or not a number on 1 dates"):
        forecaster.predict(broken, 3)
    with pytest.raises(SeqcastError, match="not a saved forecaster"):
        PriceForecaster.load(tmp_path)


def test_a_fit_without_params_is_the_pipelines():
    """PriceForecaster.fit(prices, name) needs no params file: each section it leaves out
    is params.yaml's, so it gives the pipeline's model and forecast."""
    history = _history(600)
    pipeline = parse_params(copy.deepcopy(BASE))
    alone = PriceForecaster.fit(history, "linear")
    as_params = PriceForecaster.fit(history, "linear", **pipeline.fit_sections("linear"))
    pd.testing.assert_frame_equal(alone.predict(history, 5), as_params.predict(history, 5))
    assert alone.prep.length == pipeline.window.length
    assert alone.prep.coder.transform == pipeline.target.transform
    assert alone.intervals.steps == pipeline.forecast.days
