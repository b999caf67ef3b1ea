"""The comparison result: the leaderboard joins each model's metrics with its first step's
DM test against naive; significance.json leaves naive itself out; the report renders it."""

import pandas as pd

from seqcast.comparison import Comparison, markdown
from seqcast.significance import DieboldMariano


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
    return Comparison(
        metrics, {}, {}, tests, rmse, p, {}, folds, summary, "one fold", {}, context,
        pd.Series(dtype="float64"),
    )  # fmt: skip


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
