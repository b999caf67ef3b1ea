"""The comparison result: the leaderboard joins each model's metrics with its first step's
DM test against naive; significance.json leaves naive itself out; the report renders it."""

import pandas as pd

from seqcast.jobs.compare import Comparison, markdown
from seqcast.scoring.significance import DieboldMariano


def _test(statistic: float, p: float, step: int) -> DieboldMariano:
    return DieboldMariano(statistic, 2 * min(p, 1 - p), p, 50, step, 0.1)


def _comparison() -> Comparison:
    metrics = {
        name: {"rmse": rmse, "mae": rmse, "mape": 1.0, "r2": 0.5, "mase": 1.0,
               "skill_vs_naive": 1 - rmse, "directional_accuracy": 0.5}
        for name, rmse in (("naive", 1.0), ("linear", 0.8))
    }  # fmt: skip
    tests = {
        "naive": {1: _test(float("nan"), float("nan"), 1), 2: _test(float("nan"), float("nan"), 2)},
        "linear": {1: _test(-2.5, 0.01, 1), 2: _test(-1.0, 0.2, 2)},
    }
    rmse = pd.DataFrame({1: [1.0, 0.8], 2: [1.5, 1.4]}, index=["naive", "linear"])
    p = pd.DataFrame({1: [float("nan"), 0.01], 2: [float("nan"), 0.2]}, index=rmse.index)
    context = {"ticker": "AAA", "target": "close", "horizon": 1, "n_targets": 50,
               "experiment": "seqcast", "train_start": "a", "train_end": "b",
               "val_start": "c", "val_end": "d", "test_start": "e", "test_end": "f"}  # fmt: skip
    folds = {m: {"2020-01-01": metrics[m]} for m in metrics}
    summary = {m: {"folds": f, "mean": metrics[m], "std": {k: 0.0 for k in metrics[m]}}
               for m, f in folds.items()}  # fmt: skip
    intervals = {m: _intervals(c80, c95) for m, c80, c95 in (("naive", 0.78, 0.93),
                                                              ("linear", 0.6, 0.9))}  # fmt: skip
    fold_intervals = {m: {"2020-01-01": _intervals(0.81, 0.96)} for m in metrics}
    return Comparison(
        metrics, {}, {}, tests, rmse, p, {}, folds, summary, "one fold", {}, context,
        pd.Series(dtype="float64"), intervals, fold_intervals, *_forecast(),
    )  # fmt: skip


def _intervals(c80: float, c95: float) -> dict:
    """An intervals.json of two steps."""
    scored = {
        level: {"nominal": nominal, "coverage": c, "by_step": [c, c], "mean_half_width": w}
        for level, nominal, c, w in (("80", 0.8, c80, 0.02), ("95", 0.95, c95, 0.03))
    }
    calibration = {
        "errors": "relative",
        "levels": [0.8, 0.95],
        "errors_per_step": [40, 39],
        "half_widths": {"80": [0.01, 0.03], "95": [0.02, 0.04]},
    }
    return {"calibration": calibration, "test": {"pairs": 97, **scored}}


def _forecast() -> tuple[pd.DataFrame, dict]:
    frame = pd.DataFrame(
        {"step": [1, 2], "forecast": [10.0, 10.5], "lower_80": [9.9, 10.2],
         "upper_80": [10.1, 10.8], "lower_95": [9.8, 10.0], "upper_95": [10.2, 11.0]},
        index=pd.DatetimeIndex(["2021-01-04", "2021-01-05"], name="date"),
    )  # fmt: skip
    summary = {"model": "linear", "chosen_by": "lowest validation RMSE",
               "last_observed_date": "2021-01-01", "last_observed_price": 9.95}  # fmt: skip
    return frame, summary


def test_leaderboard_carries_the_first_steps_test_against_naive():
    board = _comparison().leaderboard
    assert board["linear"]["dm_statistic"] == -2.5
    assert board["linear"]["dm_p_better"] == 0.01
    assert board["linear"]["rmse"] == 0.8


def test_significance_leaves_naive_out_and_keys_steps_as_text():
    significance = _comparison().significance
    assert list(significance) == ["linear"]
    assert list(significance["linear"]) == ["1", "2"]
    assert significance["linear"]["2"]["p_better"] == 0.2


def test_the_report_ranks_by_rmse_and_links_its_figures():
    text = markdown(_comparison(), {"Forecasts against actual prices": "figures/forecasts.png"})
    rows = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert rows and rows[0].startswith("| 1 | linear |")
    assert "![Forecasts against actual prices](figures/forecasts.png)" in text
    assert "![Error by forecast step](figures/per_step.png)" in text


def test_the_report_gives_every_model_s_coverage_beside_the_nominal_level():
    text = markdown(_comparison(), {})
    section = text[text.index("## Prediction intervals") :]
    assert "| naive | 78.0% | ±2.02% | 93.0% | ±3.05% | 97 |" in section
    assert "| linear | 60.0% | ±2.02% | 90.0% | ±3.05% | 97 |" in section
    # linear's 80% misses by 20 points, naive's by 2: only linear is called out
    assert "Below nominal by more than 5 points: linear (80%: 60.0%)." in section
    assert "| naive | 81.0% | 96.0% |" in section  # its walk-forward fold


def test_the_report_ends_with_the_forecast_and_its_bands():
    text = markdown(_comparison(), {})
    section = text[text.index("## Forecast past the last observed date") :]
    assert "linear (lowest validation RMSE) forecasts AAA 2 business days after 2021-01-01" in (
        section
    )
    assert "| 2 | 2021-01-05 | 10.50 | 10.20 .. 10.80 | 10.00 .. 11.00 |" in section
    assert "![Forecast past the last observed date](forecast/forecast.png)" in section
