"""Walk-forward folds: their blocks, a scaler fit per fold on its own training rows only."""

import datetime

import numpy as np
import pandas as pd
import pytest

from seqcast.data.features import make_features
from seqcast.errors import SeqcastError
from seqcast.forecasting.folds import fold_table, origin_date
from seqcast.jobs.backtest import run_fold
from seqcast.params import parse_params
from seqcast.scoring.evaluation import mean_and_spread


@pytest.fixture
def features(prices) -> pd.DataFrame:
    """The conftest's 200-day random walk, featurised: 196 rows (4 days of warm-up)."""
    return make_features(prices, "close", lags=3, rolling_windows=[5], returns=True)


PARAMS = parse_params(
    {
        "features": {"lags": 3, "rolling_windows": [5]},
        "window": {"length": 5},
        "multistep": {"steps": 3},
        "models": {"linear": {"alpha": 0.1}},
    }
)
FOLD = {"scheme": "expanding", "train_days": 60, "val_days": 30, "test_days": 20}


def _day(table: pd.DataFrame, row: int) -> datetime.date:
    return table.index[row].date()


def test_expanding_fold_blocks_end_at_the_origin(features):
    origin = _day(features, 119)  # row 119 of 196
    fold = fold_table(features, origin, **FOLD)
    counts = fold["split"].value_counts()
    assert (counts["train"], counts["val"], counts["test"]) == (90, 30, 20)
    assert fold.index[0] == features.index[0]  # expanding: from the first day
    assert fold.index[fold["split"] == "val"][-1].date() == origin
    assert fold.index[-1] == features.index[139]  # 20 test days after the origin
    assert list(fold["split"]) == ["train"] * 90 + ["val"] * 30 + ["test"] * 20
    pd.testing.assert_frame_equal(fold.drop(columns="split"), features.iloc[:140])


def test_sliding_fold_keeps_only_train_days_of_training(features):
    fold = fold_table(features, _day(features, 149), **{**FOLD, "scheme": "sliding"})
    assert (fold["split"] == "train").sum() == 60
    assert fold.index[0] == features.index[149 - 30 - 60 + 1]


def test_an_origin_on_a_weekend_means_the_last_trading_day_before_it(features):
    saturday = pd.Timestamp(features.index[119]) + pd.offsets.Week(weekday=5)
    friday = features.index[features.index <= saturday][-1]
    fold = fold_table(features, saturday.date(), **FOLD)
    assert fold.index[fold["split"] == "val"][-1] == friday


def test_an_origin_too_close_to_the_end_or_the_start_is_a_clear_error(features):
    with pytest.raises(SeqcastError, match=r"leaves 16 trading days after it, fewer than "):
        fold_table(features, _day(features, 179), **FOLD)
    with pytest.raises(SeqcastError, match=r"too few for backtest.val_days = 30 and 60 training"):
        fold_table(features, _day(features, 80), **{**FOLD, "scheme": "sliding"})
    with pytest.raises(SeqcastError, match=r"is before the first date"):
        fold_table(features, datetime.date(2019, 1, 1), **FOLD)


def test_each_fold_fits_its_scaler_on_its_own_training_rows_only(features):
    early = fold_table(features, _day(features, 119), **FOLD)
    late = fold_table(features, _day(features, 159), **FOLD)
    scalers = {}
    for name, fold in (("early", early), ("late", late)):
        result = run_fold(fold, "naive", PARAMS)
        train = fold.loc[fold["split"] == "train"].drop(columns="split").to_numpy()
        np.testing.assert_array_equal(result.prep.scaler.offset_, train.min(axis=0))
        np.testing.assert_array_equal(
            result.prep.scaler.scale_, train.max(axis=0) - train.min(axis=0)
        )
        scalers[name] = result.prep.scaler
    # The later fold learns from more days: its scaler differs from the earlier fold's.
    assert not np.array_equal(scalers["early"].scale_, scalers["late"].scale_)

    # Changing the fold's validation and test days leaves its scaler and model unchanged.
    changed = early.copy()
    later = changed["split"] != "train"
    columns = [c for c in changed.columns if c != "split"]
    changed.loc[later, columns] = changed.loc[later, columns] * 5 + 100
    linear = run_fold(early, "linear", PARAMS)
    again = run_fold(changed, "linear", PARAMS)
    assert again.prep.scaler.to_dict() == linear.prep.scaler.to_dict()
    np.testing.assert_array_equal(again.model.coef_, linear.model.coef_)


def test_fold_predictions_are_scored_on_the_folds_test_block(features):
    fold = fold_table(features, _day(features, 119), **FOLD)
    result = run_fold(fold, "naive", PARAMS)
    test_dates = fold.index[fold["split"] == "test"]
    first = result.predictions[result.predictions["step"] == 1]
    assert first.index.equals(pd.DatetimeIndex(test_dates, name="date"))
    assert sorted(result.metrics_by_step) == [1, 2, 3]
    # Every step is forecast from the same origins (the last validation day, then each
    # test day but the last): step 3 targets are the test days from the third on.
    third = result.predictions[result.predictions["step"] == 3]
    assert third.index.equals(pd.DatetimeIndex(test_dates[2:], name="date"))
    assert third["origin_date"].iloc[0] == fold.index[fold["split"] == "val"][-1]
    assert result.metrics_by_step[1]["skill_vs_naive"] == pytest.approx(0, abs=1e-12)


def test_mean_and_spread_across_folds_is_the_mean_and_sample_standard_deviation():
    folds = {"a": {"rmse": 1.0, "skill_vs_naive": -0.1}, "b": {"rmse": 3.0, "skill_vs_naive": 0.3}}
    summary = mean_and_spread(folds)
    assert summary["mean"] == pytest.approx({"rmse": 2.0, "skill_vs_naive": 0.1})
    # sqrt(((1 - 2)² + (3 - 2)²) / (2 - 1)) = sqrt(2); sqrt((0.2² + 0.2²) / 1)
    assert summary["std"] == pytest.approx({"rmse": 2**0.5, "skill_vs_naive": 0.08**0.5})
    single = mean_and_spread({"a": {"rmse": 1.0}})
    assert single["std"] == {"rmse": 0.0}


def test_backtest_params_name_a_bad_origin_or_model():
    with pytest.raises(SeqcastError, match=r"backtest.origins: '2012-13-01' is not a date"):
        parse_params({"backtest": {"origins": ["2012-13-01"]}})
    with pytest.raises(SeqcastError, match=r"list each origin once"):
        parse_params({"backtest": {"origins": ["2012-03-30", "2011-09-30", "2012-03-30"]}})
    with pytest.raises(SeqcastError, match=r"backtest.models contains 'arima': not a known model"):
        parse_params({"backtest": {"models": ["naive", "arima"]}})
    # Dates YAML reads unquoted are the same origins as quoted ones.
    unquoted = parse_params({"backtest": {"origins": [datetime.date(2012, 3, 30)]}})
    assert unquoted.backtest.origins == ["2012-03-30"]


def test_fold_numbers_count_back_from_the_test_split(features):
    """Fold k's test block is the k-th block of test_days before the test split: here the
    split of 196 rows at 0.6 / 0.2 starts the test split at row 156 (117 + 39)."""
    split = parse_params({"split": {"train": 0.6, "val": 0.2}}).split
    assert origin_date(1, features, split, 20) == _day(features, 156 - 20 - 1)
    assert origin_date(2, features, split, 20) == _day(features, 156 - 40 - 1)
    fold = fold_table(features, origin_date(1, features, split, 20), **FOLD)
    assert fold.index[-1] == features.index[155]  # the day before the test split
    assert origin_date("2012-03-30", features, split, 20) == datetime.date(2012, 3, 30)
    with pytest.raises(SeqcastError, match=r"fold 8 would end 8 x backtest.test_days = 160"):
        origin_date(8, features, split, 20)


def test_fold_numbers_and_dates_are_both_origins():
    assert parse_params({}).backtest.origins == [3, 2, 1]
    mixed = parse_params({"backtest": {"origins": [2, "2012-03-30"]}})
    assert mixed.backtest.origins == [2, "2012-03-30"]
    with pytest.raises(SeqcastError, match=r"backtest.origins: 0 is not a fold number"):
        parse_params({"backtest": {"origins": [0]}})
