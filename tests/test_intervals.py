"""Conformal prediction intervals: the finite-sample rank, coverage on series whose noise
is known, calibration on validation rows only, and the bounds a forecast carries."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from repo_helpers import ROOT

from seqcast.errors import SeqcastError
from seqcast.forecasting.forecaster import PriceForecaster
from seqcast.forecasting.intervals import (
    Intervals,
    StepErrors,
    calibrate,
    conformal_width,
    coverage,
)
from seqcast.params import parse_params

BASE = yaml.safe_load((ROOT / "params.yaml").read_text())
Z = {"80": 1.2816, "95": 1.9600}  # two-sided normal quantiles


def _params(days: int, intervals: str = "absolute", **sections):
    raw = copy.deepcopy(BASE)
    raw["forecast"].update({"days": days, "intervals": intervals})
    for key, value in sections.items():
        raw[key].update(value)
    return parse_params(raw)


def _series(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2000-01-03", periods=len(values), name="date"))


def _with_test_block(prices: pd.Series, fitted_rows: int) -> pd.DataFrame:
    """The whole series, its first `fitted_rows` labelled as the fit saw them, then test."""
    labels = ["train"] * fitted_rows + ["test"] * (len(prices) - fitted_rows)
    return pd.DataFrame({"close": prices, "split": labels})


def test_the_width_is_the_ceil_n_plus_1_level_th_smallest_error():
    errors = np.array([-5.0, 1.0, -2.0, 4.0, 3.0, 0.5, -0.25, 6.0, 7.0, -8.0])  # n = 10
    # 0.8: rank ceil(11 * 0.8) = 9 of the sorted |errors| 0.25 0.5 1 2 3 4 5 6 7 8
    assert conformal_width(errors, 0.8) == 7.0
    assert conformal_width(errors, 0.5) == 4.0  # rank ceil(5.5) = 6
    # 0.95 needs rank ceil(10.45) = 11 > 10: no finite width promises it
    assert math.isinf(conformal_width(errors, 0.95))
    assert math.isinf(conformal_width(np.array([]), 0.8))


def test_a_random_walk_s_intervals_grow_as_the_root_of_the_step_and_cover_as_promised():
    """Gaussian steps of sd 1: tomorrow = today (naive) is the best forecast, and its h-step
    error is N(0, h). The widths must be z * sqrt(h); on 3,000 later days, coverage must be
    near 80% and 95% at every step."""
    rng = np.random.default_rng(7)
    prices = _series(1000 + np.cumsum(rng.normal(0, 1, 6000)))
    fitted = 3000
    forecaster = PriceForecaster.fit(
        prices.iloc[:fitted], "naive", **_params(days=10).fit_sections("naive")
    )
    intervals = forecaster.intervals
    assert intervals.levels == (0.8, 0.95)
    steps = np.arange(1, 11)
    for j, level in enumerate(("80", "95")):
        expected = Z[level] * np.sqrt(steps)
        np.testing.assert_allclose(intervals.widths[:, j], expected, rtol=0.15)
    table = _with_test_block(prices, fitted)
    report = coverage(forecaster.block_errors(table, "test", 10), intervals)
    assert report["pairs"] == sum(3000 - h + 1 for h in steps)
    for level, nominal in (("80", 0.8), ("95", 0.95)):
        assert report[level]["coverage"] == pytest.approx(nominal, abs=0.04)
        assert all(c == pytest.approx(nominal, abs=0.07) for c in report[level]["by_step"])


def test_a_noisy_sine_fitted_by_the_linear_model_is_covered_at_the_nominal_levels():
    """A 50-day sine plus Gaussian noise of sd 1: the linear model's errors are about the
    noise, so the 80% interval is about 1.28 wide either side, and it covers 80%."""
    rng = np.random.default_rng(11)
    t = np.arange(5000)
    prices = _series(100 + 10 * np.sin(2 * np.pi * t / 50) + rng.normal(0, 1, len(t)))
    params = _params(days=5, target={"transform": "level"})
    forecaster = PriceForecaster.fit(prices.iloc[:2500], "linear", **params.fit_sections("linear"))
    step_one = forecaster.intervals.widths[0]
    assert step_one[0] == pytest.approx(Z["80"], rel=0.2)
    assert step_one[1] == pytest.approx(Z["95"], rel=0.2)
    report = coverage(
        forecaster.block_errors(_with_test_block(prices, 2500), "test", 5), forecaster.intervals
    )
    assert report["80"]["coverage"] == pytest.approx(0.8, abs=0.04)
    assert report["95"]["coverage"] == pytest.approx(0.95, abs=0.03)


def test_relative_intervals_keep_their_coverage_when_the_price_is_ten_times_higher():
    """A geometric random walk with 1% daily moves whose test block trades at ten times the
    price (a jump between the blocks): relative errors are alike on every day, absolute
    ones grow with the price. Calibrated on the validation block, relative intervals cover
    as promised on the test block; absolute ones fall far short."""
    rng = np.random.default_rng(5)
    n, fitted = 7000, 4000  # about 700 validation origins
    prices = _series(10 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))))
    prices.iloc[fitted:] *= 10
    table = _with_test_block(prices, fitted)
    covered = {}
    for kind in ("relative", "absolute"):
        forecaster = PriceForecaster.fit(
            prices.iloc[:fitted], "naive", **_params(5, kind).fit_sections("naive")
        )
        report = coverage(forecaster.block_errors(table, "test", 5), forecaster.intervals)
        covered[kind] = (report["80"]["coverage"], report["95"]["coverage"])
    assert covered["relative"][0] == pytest.approx(0.8, abs=0.05)
    assert covered["relative"][1] == pytest.approx(0.95, abs=0.03)
    assert covered["absolute"][0] < 0.5 and covered["absolute"][1] < 0.7
    relative = PriceForecaster.fit(
        prices.iloc[:fitted], "naive", **_params(5, "relative").fit_sections("naive")
    )
    frame = relative.predict(prices, 5)
    # forecast * exp(+-w): the band is a share of the forecast, wider above than below
    np.testing.assert_allclose(
        frame["upper_80"] / frame["forecast"], np.exp(relative.intervals.widths[:, 0])
    )
    assert ((frame["upper_95"] - frame["forecast"]) > (frame["forecast"] - frame["lower_95"])).all()


def test_relative_intervals_refuse_a_price_that_is_not_positive():
    errors = StepErrors(np.array([[1.0], [2.0]]), np.array([[1.5], [-0.5]]))
    with pytest.raises(SeqcastError, match=r"set forecast\.intervals: absolute"):
        calibrate(errors, "validation", "relative")
    absolute = calibrate(errors, "validation", "absolute")
    with pytest.raises(SeqcastError, match="no relative interval"):
        calibrate(StepErrors(np.ones((2, 1)), np.ones((2, 1))), "v").bounds(np.array([-1.0]))
    assert absolute.kind == "absolute"


def test_calibration_reads_validation_rows_only():
    """Test rows, however wild, change nothing: the widths come from validation errors."""
    rng = np.random.default_rng(2)
    prices = _series(100 + np.cumsum(rng.normal(0, 1, 400)))
    forecaster = PriceForecaster.fit(prices, "naive", **_params(days=3).fit_sections("naive"))
    labels = ["train"] * 250 + ["val"] * 80 + ["test"] * 70
    table = pd.DataFrame({"close": prices, "split": labels})
    wild = table.assign(close=np.where(table["split"] == "test", 1e6, table["close"]))
    calm_widths = forecaster.calibrated(table, 3).intervals.widths
    np.testing.assert_array_equal(forecaster.calibrated(wild, 3).intervals.widths, calm_widths)
    assert forecaster.calibrated(table, 3).intervals.errors_per_step == (80, 79, 78)


def test_bounds_bracket_the_forecast_and_travel_through_save_and_load(tmp_path):
    rng = np.random.default_rng(4)
    prices = _series(100 + np.cumsum(rng.normal(0, 1, 400)))
    forecaster = PriceForecaster.fit(prices, "linear", **_params(days=8).fit_sections("linear"))
    frame = forecaster.predict(prices, 8)
    assert list(frame.columns) == [
        "step", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"
    ]  # fmt: skip
    assert (frame["lower_95"] < frame["lower_80"]).all()
    assert (frame["upper_80"] < frame["upper_95"]).all()
    np.testing.assert_allclose(
        frame["upper_80"] - frame["forecast"], forecaster.intervals.widths[:, 0]
    )
    forecaster.save(tmp_path / "f")
    pd.testing.assert_frame_equal(PriceForecaster.load(tmp_path / "f").predict(prices, 8), frame)
    with pytest.raises(SeqcastError, match="calibrated for 1 to 8 steps, not 9"):
        forecaster.predict(prices, 9)


def test_too_few_errors_give_unbounded_intervals_that_survive_json():
    errors = StepErrors(np.zeros((5, 2)), np.array([[1.0, 2.0]] * 5))
    intervals = calibrate(errors, "validation", "absolute")
    assert math.isfinite(intervals.widths[0, 0]) and math.isinf(intervals.widths[0, 1])
    data = intervals.to_dict()
    assert data["half_widths"]["95"] == [None, None]
    again = Intervals.from_dict(data)
    np.testing.assert_array_equal(again.widths, intervals.widths)
    assert again.errors_per_step == (5, 5) and again.kind == "absolute"


def test_auto_is_relative_for_positive_prices_and_absolute_for_a_series_crossing_zero():
    positive = StepErrors(np.array([[1.0], [2.0]]), np.array([[1.5], [2.5]]))
    assert calibrate(positive, "validation").kind == "relative"
    crossing = StepErrors(np.array([[1.0], [-2.0]]), np.array([[1.5], [-1.5]]))
    assert calibrate(crossing, "validation").kind == "absolute"
    rng = np.random.default_rng(6)
    sine = _series(np.sin(np.arange(600) / 8) + rng.normal(0, 0.1, 600))  # around 0
    params = _params(days=3, intervals="auto", features={"returns": False})
    forecaster = PriceForecaster.fit(sine, "linear", **params.fit_sections("linear"))
    assert forecaster.intervals.kind == "absolute"
    assert forecaster.intervals.to_dict()["errors"] == "absolute"
