"""Error metrics and test-set evaluation against numbers worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest
from inmemory import decoding

from seqcast.forecasting.multistep import predict_test
from seqcast.models.baselines import LinearForecaster, NaiveForecaster
from seqcast.prep.scaling import scaler_from_dict
from seqcast.prep.transforms import TargetCoder, fit_coder
from seqcast.prep.windows import make_windows
from seqcast.scoring import metrics
from seqcast.scoring.evaluation import score
from seqcast.scoring.metrics import rounded

# Errors y_true - y_pred: -1, 0, 1, -2.
Y_TRUE = np.array([1.0, 2.0, 4.0, 8.0])
Y_PRED = np.array([2.0, 2.0, 3.0, 10.0])


def test_mae():
    # (1 + 0 + 1 + 2) / 4
    assert metrics.mae(Y_TRUE, Y_PRED) == 1.0


def test_rmse():
    # sqrt((1 + 0 + 1 + 4) / 4)
    assert metrics.rmse(Y_TRUE, Y_PRED) == pytest.approx(math.sqrt(1.5), rel=1e-15)


def test_mape_is_in_percent():
    # 100 * (1/1 + 0/2 + 1/4 + 2/8) / 4
    assert metrics.mape(Y_TRUE, Y_PRED) == pytest.approx(37.5, rel=1e-15)


def test_r2():
    # mean 3.75; total = 2.75² + 1.75² + 0.25² + 4.25² = 28.75; residual = 6.
    assert metrics.r2(Y_TRUE, Y_PRED) == pytest.approx(1 - 6 / 28.75, rel=1e-15)
    assert metrics.r2(Y_TRUE, Y_TRUE) == 1.0
    # Predicting the mean scores exactly 0.
    assert metrics.r2(Y_TRUE, np.full(4, 3.75)) == 0.0


def test_naive_scale_is_mean_absolute_one_step_change():
    # |12 - 10|, |11 - 12|, |15 - 11| = 2, 1, 4
    assert metrics.naive_scale(np.array([10.0, 12.0, 11.0, 15.0])) == pytest.approx(7 / 3)


def test_mase():
    # mae 1 / scale 7/3
    assert metrics.mase(Y_TRUE, Y_PRED, 7 / 3) == pytest.approx(3 / 7, rel=1e-15)


@pytest.mark.parametrize(
    ("model_rmse", "naive_rmse", "expected"),
    [(1.0, 2.0, 0.5), (2.0, 2.0, 0.0), (0.0, 3.0, 1.0), (3.0, 2.0, -0.5)],
)
def test_skill(model_rmse, naive_rmse, expected):
    assert metrics.skill(model_rmse, naive_rmse) == expected


def test_directional_accuracy_counts_matching_signs_of_the_change():
    origin = np.array([10.0, 10.0, 10.0, 10.0, 10.0])
    actual = np.array([11.0, 9.0, 12.0, 10.0, 8.0])  # up, down, up, flat, down
    predicted = np.array([10.5, 9.5, 9.0, 10.0, 10.0])  # up, down, down, flat, flat
    # right: 1st, 2nd, 4th (flat = flat); wrong: 3rd, 5th
    assert metrics.directional_accuracy(actual, predicted, origin) == 3 / 5
    # The naive forecast (no change) is right only on the flat day.
    assert metrics.directional_accuracy(actual, origin, origin) == 1 / 5
    # Rounding noise from unscaling (a few units in the last digit) is no change either.
    noisy = origin * (1 + np.array([1, -1, 2, -2, 0]) * 1e-15)
    assert metrics.directional_accuracy(actual, noisy, origin) == 1 / 5
    assert metrics.directional_accuracy(actual, origin + 1e-6, origin) == 2 / 5


def test_forecast_metrics_combines_all_seven():
    y_naive = np.array([0.0, 2.0, 2.0, 4.0])  # errors 1, 0, 2, 4: rmse sqrt(21 / 4)
    result = metrics.forecast_metrics(Y_TRUE, Y_PRED, y_naive, 7 / 3)
    assert list(result) == [
        "mae",
        "rmse",
        "mape",
        "r2",
        "mase",
        "skill_vs_naive",
        "directional_accuracy",
    ]
    expected = {
        "mae": 1.0,
        "rmse": math.sqrt(1.5),
        "mape": 37.5,
        "r2": 1 - 6 / 28.75,
        "mase": 3 / 7,
        "skill_vs_naive": 1 - math.sqrt(1.5 / 5.25),
        # changes from the origin: actual 1, 0, 2, 4; predicted 2, 0, 1, 6: all signs agree
        "directional_accuracy": 1.0,
    }
    assert result == pytest.approx(expected, rel=1e-14)
    assert all(isinstance(value, float) for value in result.values())


def test_rounded_keeps_six_significant_digits():
    result = rounded(
        {
            "a": 1.23456789,
            "b": 123456.789,
            "c": 0.000123456789,
            "d": 1234567.89,
            "e": -0.987654321,
            "f": 0.5,
            "g": 0.0,
        }
    )
    assert result == {
        "a": 1.23457,
        "b": 123457.0,
        "c": 0.000123457,
        "d": 1234570.0,
        "e": -0.987654,
        "f": 0.5,
        "g": 0.0,
    }
    assert all(type(value) is float for value in result.values())
    assert rounded({"a": 1.23456789}, digits=3) == {"a": 1.23}


# A hand-built evaluation: 8 business days, train 4, val 2, test 2, window length 2, horizon 1.
CLOSE = [10.0, 11.0, 13.0, 12.0, 15.0, 14.0, 16.0, 19.0]


@pytest.fixture
def table() -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-01", periods=8, name="date")
    frame = pd.DataFrame({"close": CLOSE, "aux": np.arange(8.0) * 100}, index=dates)
    frame["split"] = ["train"] * 4 + ["val"] * 2 + ["test"] * 2
    return frame


IDENTITY = TargetCoder("level", level_offset=0.0, level_scale=1.0)


def test_naive_model_evaluation_matches_hand_computed_numbers(table):
    windows = make_windows(table, "close", 2, 1)  # identity scaling: scaled table == table
    model = NaiveForecaster()
    model.fit(windows["train"], windows["val"])
    predictions = predict_test(model, windows["test"], table, decoding(IDENTITY))

    dates = table.index
    assert predictions.index.equals(pd.DatetimeIndex(dates[6:8], name="date"))
    assert predictions["origin_date"].tolist() == list(dates[5:7])
    assert predictions["actual"].tolist() == [16.0, 19.0]
    assert predictions["predicted"].tolist() == [14.0, 16.0]
    assert predictions["naive"].tolist() == [14.0, 16.0]

    result = score(predictions, table, "close")
    # Errors 2 and 3; train close 10, 11, 13, 12: naive scale (1 + 2 + 1) / 3 = 4/3.
    expected = {
        "mae": 2.5,
        "rmse": math.sqrt(6.5),
        "mape": 100 * (2 / 16 + 3 / 19) / 2,
        "r2": 1 - 13 / 4.5,  # mean 17.5: total 1.5² + 1.5² = 4.5
        "mase": 2.5 / (4 / 3),
        "skill_vs_naive": 0.0,
        "directional_accuracy": 0.0,  # both days moved; the naive forecast never does
    }
    assert result == pytest.approx(expected, rel=1e-14)
    assert result["skill_vs_naive"] == 0.0  # exactly, not approximately


def test_predict_test_unscales_only_the_target_column(table):
    """Actual and naive come from the unscaled table; the model output is unscaled with the
    target column's offset and scale (here 10 and 2; the other column's are decoys)."""
    scaler = scaler_from_dict({"method": "minmax", "offset": [10.0, -500.0], "scale": [2.0, 50.0]})
    scaled = table.copy()
    scaled[["close", "aux"]] = scaler.transform(table[["close", "aux"]].to_numpy())
    windows = make_windows(scaled, "close", 2, 1)
    model = LinearForecaster()
    model.coef_ = np.zeros(4)
    model.intercept_ = 3.0  # scaled 3.0 -> 3 * 2 + 10 = 16 in price units

    coder = fit_coder("level", scaler, 0, np.array([]), np.array([]))
    predictions = predict_test(model, windows["test"], table, decoding(coder))
    assert predictions["actual"].tolist() == [16.0, 19.0]
    assert predictions["predicted"].tolist() == [16.0, 16.0]
    assert predictions["naive"].tolist() == [14.0, 16.0]

    result = score(predictions, table, "close")
    # Model errors 0 and 3; naive errors 2 and 3.
    assert result["mae"] == pytest.approx(1.5)
    assert result["rmse"] == pytest.approx(math.sqrt(4.5))
    assert result["mase"] == pytest.approx(1.5 / (4 / 3))
    assert result["skill_vs_naive"] == pytest.approx(1 - math.sqrt(4.5 / 6.5))


def test_naive_reference_is_the_value_at_the_origin_for_longer_horizons(table):
    windows = make_windows(table, "close", 2, 2)
    model = NaiveForecaster(target_index=0)
    predictions = predict_test(model, windows["test"], table, decoding(IDENTITY))
    # Targets rows 6, 7; origins rows 4, 5.
    assert predictions["origin_date"].tolist() == list(table.index[4:6])
    assert predictions["naive"].tolist() == [15.0, 14.0]
    assert predictions["predicted"].tolist() == [15.0, 14.0]
    assert score(predictions, table, "close")["skill_vs_naive"] == 0.0


def test_every_metric_of_the_table_is_reported_gated_and_computed():
    from seqcast.params import GateParams
    from seqcast.reporting.markdown import COLUMNS

    computed = metrics.forecast_metrics(Y_TRUE, Y_PRED, np.array([1.5, 1.0, 3.0, 7.0]), 1.0)
    assert list(computed) == list(metrics.METRICS)
    assert set(metrics.METRICS) <= set(COLUMNS)
    assert set(metrics.METRICS) == set(GateParams().metrics)


def test_gate_rules_in_params_are_merged_over_the_table_defaults():
    from seqcast.params import GateParams

    rules = GateParams(metrics={"rmse": {"rel_tol": 0.05}}).metrics
    assert (rules["rmse"].better, rules["rmse"].rel_tol) == ("lower", 0.05)
    default = metrics.METRICS["directional_accuracy"]
    assert (rules["directional_accuracy"].better, rules["directional_accuracy"].abs_tol) == (
        default.better,
        default.abs_tol,
    )
