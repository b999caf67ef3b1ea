"""Each data source through `dvc repro` in a temporary git copy of the repository: a
synthetic series end to end, a Kaggle-layout CSV of two tickers with extra input columns up
to the windows, several sample tickers joined on dates, and clean failures (yfinance
offline, a bad CSV, an extra column missing on target dates). The sample source runs end
to end in test_pipeline.py."""

import json

import numpy as np
import pandas as pd
import pytest
from repo_helpers import commit, copy_repository, run, write_params

from seqcast.prep.windows import Windows

pytestmark = pytest.mark.slow  # runs the pipeline or stage processes end to end

MODELS = ["naive", "linear"]  # the data path matters here; test_pipeline covers networks
FAST = {"models": {"enabled": MODELS}}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = copy_repository(tmp_path_factory.mktemp("sources"))
    # The widely shared Kaggle layout, two stocks in one file, made from the sample.
    sample = pd.read_csv(repo / "data/sample/stocks.csv")
    both = sample[sample["ticker"].isin(["AAPL", "MSFT"])]
    kaggle = both.rename(columns={"ticker": "Name"})[
        ["date", "open", "high", "low", "close", "volume", "Name"]
    ]
    (repo / "data/kaggle").mkdir()
    kaggle.to_csv(repo / "data/kaggle/all_stocks.csv", index=False)
    write_params(repo, FAST)
    commit(repo, "fast params")
    return repo


def stage_errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if "seqcast" in line]


def test_synthetic_series_end_to_end_with_its_noise_floor(repo):
    write_params(
        repo,
        {
            **FAST,
            "data": {
                "source": "synthetic",
                "ticker": "noisy_sine",
                "target": "value",
                "synthetic": {"kind": "noisy_sine", "seed": 0},
            },
            # One fold inside the synthetic series (2000-01-03 .. 2002-09-27).
            "backtest": {"origins": ["2002-03-29"]},
            "features": {"returns": False},
        },
    )
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "download: 1001 days of noisy_sine from synthetic, 2000-01-01 to 2002-09-27" in (
        result.stdout
    )
    info = json.loads((repo / "data/raw/source.json").read_text())
    assert info["noise_floor"]["rmse_1_step"] == 0.1
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert list(metrics) == MODELS
    best = min(metrics, key=lambda m: metrics[m]["rmse"])
    report = (repo / "reports/comparison.md").read_text()
    predictions = pd.read_csv(repo / "reports/models/naive/predictions.csv", parse_dates=["date"])
    predictions = predictions[predictions["step"] == 1]  # the report's targets: one day ahead
    raw = pd.read_parquet(repo / "data/raw/prices.parquet").set_index("date")["value"]
    t = (predictions["date"] - pd.Timestamp("2000-01-01")).dt.days.to_numpy() / 10
    oracle_rmse = np.sqrt(np.mean((raw.loc[predictions["date"]].to_numpy() - np.sin(t)) ** 2))
    assert (
        "Noise floor: 0.1, the best RMSE any model can expect 1 step(s) ahead on the synthetic "
        "series noisy_sine (sin(t) is predictable; the N(0, 0.1) noise of the target is not). "
        "On these test targets the oracle forecast, which knows how the series was made, has "
        f"RMSE {oracle_rmse:.4g} (the floor up to the luck of a finite sample); the best model "
        f"here, {best}, has RMSE {metrics[best]['rmse']:.4g} "
    ) in report
    # The naive forecast pays the noise twice (today's and tomorrow's) plus the sine's step:
    # sqrt(2 * 0.1**2 + 0.1**2 / 2) = 0.158 in expectation, give or take 10 % on ~150
    # targets. The best linear forecast from a window of 20 noisy values has RMSE 0.107
    # (0.1 at infinite length); ridge on the scaled window should come close.
    assert 0.13 < metrics["naive"]["rmse"] < 0.19
    assert 0.1 < metrics["linear"]["rmse"] < 0.12


def test_kaggle_csv_with_two_tickers_and_an_extra_input_end_to_end(repo):
    write_params(
        repo,
        {
            **FAST,
            "data": {
                "source": "csv",
                "tickers": ["AAPL", "MSFT"],
                "csv": {"path": "data/kaggle/all_stocks.csv", "ticker_column": "Name"},
            },
            "features": {"extra_columns": ["MSFT.close", "AAPL.volume"]},
        },
    )
    # Up to the windows that models read: the stages after it do not see the source.
    result = run(repo, "dvc", "repro", "window")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "download: 3270 days of MSFT from csv, 2000-03-01 to 2013-03-01" in result.stdout
    # The CSV warns about the one long gap of the sample, the closing after 2001-09-11.
    assert "seqcast download: warning: 1 unusually large gaps in AAPL" in result.stderr
    raw = pd.read_parquet(repo / "data/raw/prices.parquet")
    assert raw["ticker"].drop_duplicates().tolist() == ["AAPL", "MSFT"]
    features = pd.read_parquet(repo / "data/features/features.parquet")
    assert list(features.columns[-2:]) == ["MSFT.close", "AAPL.volume"]
    msft = raw[raw["ticker"] == "MSFT"].set_index("date")["close"]
    np.testing.assert_array_equal(features["MSFT.close"], msft.loc[features.index])
    windows = Windows.load(repo / "data/windows/test.npz")
    assert windows.feature_names.tolist()[-2:] == ["MSFT.close", "AAPL.volume"]
    assert windows.x.shape[2] == features.shape[1]


def test_an_extra_ticker_missing_on_target_dates_fails_then_inner_join_reports_the_drop(repo):
    update = {
        **FAST,
        "data": {"tickers": ["AAPL", "GOOG"]},
        "features": {"extra_columns": ["GOOG.close"]},
    }
    write_params(repo, update)
    result = run(repo, "dvc", "repro", "featurize")
    assert result.returncode != 0
    assert stage_errors(result) == [  # the check stage, before featurize
        "seqcast check: error: features.extra_columns have no value on some dates of the "
        "target: GOOG.close on 1121 of 3269 dates: 2000-03-02, 2000-03-03, 2000-03-06, "
        "2000-03-07, 2000-03-08 and 1116 more; set features.join: inner to keep only the "
        "dates that every column has"
    ]
    assert not (repo / "data/raw/checked.json").exists()

    write_params(repo, {**update, "features": {**update["features"], "join": "inner"}})
    result = run(repo, "dvc", "repro", "featurize")
    assert result.returncode == 0, result.stderr
    assert (
        "featurize: features.join = inner dropped 1121 dates on which an extra column has no "
        "value: 2000-03-02, 2000-03-03, 2000-03-06, 2000-03-07, 2000-03-08 and 1116 more"
    ) in result.stdout
    features = pd.read_parquet(repo / "data/features/features.parquet")
    assert len(features) == 3269 - 1121
    assert features.index[0] == pd.Timestamp("2004-08-19")


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (
            {"data": {"source": "yfinance", "yfinance": {"retries": 0, "timeout_s": 5.0}}},
            "seqcast download: error: yfinance returned no prices for AAPL from 2015-01-02 to "
            "2025-01-01 (end exclusive, interval 1d) in 1 attempt: the ticker may be unknown "
            "or delisted, or Yahoo Finance could not be reached",
        ),
        (
            {
                "data": {
                    "source": "csv",
                    "csv": {"path": "data/kaggle/all_stocks.csv", "ticker_column": "ticker"},
                }
            },
            "seqcast download: error: data.csv.path = 'data/kaggle/all_stocks.csv': missing "
            "columns: data.csv.ticker_column = 'ticker'; the file has 'date', 'open', 'high', "
            "'low', 'close', 'volume', 'Name'",
        ),
    ],
    ids=["yfinance-offline", "csv-missing-column"],
)
def test_a_failing_source_stops_the_download_with_one_message_and_no_output(repo, update, message):
    write_params(repo, {**FAST, **update})
    result = run(repo, "dvc", "repro", "download")
    assert result.returncode != 0
    errors = stage_errors(result)
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(message)
    assert "Traceback" not in result.stderr
    assert not (repo / "data/raw/prices.parquet").exists()
    assert not (repo / "data/raw/source.json").exists()


def test_a_protocol_without_validation_clipping_or_backtest_runs_end_to_end(repo):
    """Issue 14's protocol: the last N rows as the test block, no validation block, a
    fixed epoch count, no gradient clipping, no walk-forward backtest."""
    write_params(
        repo,
        {
            "models": {"enabled": ["naive", "linear", "rnn"]},
            "data": {
                "source": "synthetic",
                "ticker": "noisy_sine",
                "target": "value",
                "synthetic": {"kind": "noisy_sine", "seed": 0},
            },
            "features": {"returns": False},
            "split": {"train": 0.8, "val": 0.0, "test_rows": 200},
            "train": {"patience": None, "max_epochs": 4, "grad_clip": None},
            "forecast": {"model": "rnn"},
            "backtest": {"origins": []},
        },
    )
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    ranges = json.loads((repo / "data/split/ranges.json").read_text())
    assert ranges["val"] == {"rows": 0, "start": None, "end": None}
    assert ranges["test"]["rows"] == 200 and ranges["test"]["end"] == "2002-09-27"
    history = json.loads((repo / "data/models/rnn/history.json").read_text())
    assert len(history["train_loss"]) == 4 and history["val_loss"] == []
    assert history["best_epoch"] == 4  # the last epoch is kept
    report = (repo / "reports/comparison.md").read_text()
    assert "No walk-forward backtest: `backtest.origins` is empty." in report
    intervals = json.loads((repo / "reports/models/rnn/intervals.json").read_text())
    assert intervals["calibration"]["calibrated_on"].startswith("nothing: no validation block")
    widths = intervals["calibration"]["half_widths"]
    assert {w for level in widths.values() for w in level} == {None}  # infinite: none made up
    forecast = json.loads((repo / "reports/forecast/forecast.json").read_text())
    assert forecast["model"] == "rnn" and forecast["chosen_by"] == "params"
