"""Small sweeps for the tests: two tickers in the Kaggle all-stocks CSV layout, tiny folds
and models, and an executor that runs units in the test's own process."""

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from repo_helpers import ROOT, merge

from seqcast.params import Params, parse_params

TICKERS = ("AAA", "BBB")


def kaggle_csv(path: Path, rows: int = 420) -> Path:
    """Two random-walk tickers as Kaggle's all_stocks_5yr.csv lays them out: date, open,
    high, low, close, volume, Name; one ticker after the other."""
    frames = []
    for k, name in enumerate(TICKERS):
        rng = np.random.default_rng(k)
        close = 50 + 10 * k + np.cumsum(rng.normal(0, 0.5, rows))
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.bdate_range("2013-02-08", periods=rows).strftime("%Y-%m-%d"),
                    "open": close + 0.1,
                    "high": close + 0.5,
                    "low": close - 0.5,
                    "close": close,
                    "volume": rng.integers(1_000, 5_000, rows),
                    "Name": name,
                }
            )
        )
    pd.concat(frames).to_csv(path, index=False)
    return path


def sweep_raw(csv: Path, **sweep: Any) -> dict[str, Any]:
    """params.yaml with the CSV as source, tiny networks and folds, and `sweep` over it."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    return merge(
        raw,
        {
            "data": {
                "source": "csv",
                "ticker": TICKERS[0],
                "csv": {"path": str(csv), "ticker_column": "Name"},
            },
            "window": {"length": 10},
            "train": {"max_epochs": 2, "patience": 2, "batch_size": 128},
            "models": {"gru": {"hidden_size": 4}, "rnn": {"hidden_size": 4}},
            "backtest": {"val_days": 40, "test_days": 30},
            "sweep": {
                "tickers": list(TICKERS),
                "models": ["naive", "linear", "gru"],
                "seeds": [1, 2],
                "origins": [2, 1],
                "space": {"linear": {"alpha": [0.1, 10.0]}},
                **sweep,
            },
        },
    )


def sweep_params(csv: Path, **sweep: Any) -> Params:
    return parse_params(sweep_raw(csv, **sweep))


class InProcess:
    """The executor protocol, running each unit here, in order: for the driver's logic."""

    description = "this process"

    def __init__(self) -> None:
        self.submitted: list[Any] = []

    def run(self, fn, tasks):
        for index, task in enumerate(tasks):
            self.submitted.append(task)
            try:
                yield index, fn(task)
            except Exception as exc:
                yield index, exc

    def close(self) -> None:
        pass


# Where fold_fails_once marks the units it has failed: in the environment, so that a
# worker process of a local pool sees it too.
MARKERS = "SEQCAST_TEST_FAILED_UNITS"


def fold_fails_once(task):
    """run_task, whose fold raises the first time each unit of ticker AAA, linear, seed 1
    and fold 1 runs (one per config): inside the unit, as a lost node would."""
    from unittest import mock

    from seqcast.jobs.sweep_units import run_task

    unit = task.unit
    marker = Path(os.environ[MARKERS]) / task.unit_id
    if (unit.ticker, unit.model, unit.seed, unit.origin) != ("AAA", "linear", 1, "1"):
        return run_task(task)
    if marker.exists():
        return run_task(task)
    marker.touch()
    with mock.patch(
        "seqcast.jobs.backtest.backtest", side_effect=RuntimeError("the node went away")
    ):
        return run_task(task)


def worker_dies_once(task):
    """run_task, except that the first unit to run ends its worker process outright, as the
    kernel's out-of-memory killer would: no exception, no clean-up."""
    from seqcast.jobs.sweep_units import run_task

    marker = Path(os.environ[MARKERS]) / "died"
    if not marker.exists():
        marker.touch()
        os._exit(1)
    return run_task(task)
