"""Leakage tripwire: the pipeline's own stage code (featurize, split, scale, window, train) on
real prices, once as they are and once with every value after a split's end replaced.

Whatever a later split holds must not reach what is learned from earlier ones: the
training windows and the fitted scaler do not depend on anything after the training
split, and the trained weights (early stopping on validation loss included) on anything
after the validation split, bit for bit.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from repo_helpers import ROOT, prepare_windows, train

from seqcast.data.sources import load_sample
from seqcast.prep.windows import Windows

PARAMS = {
    "window": {"length": 10, "horizon": 1},
    "train": {"max_epochs": 60, "patience": 3, "batch_size": 32, "learning_rate": 0.01},
    "models": {cell: {"hidden_size": 8} for cell in ("rnn", "lstm", "gru")},
}
ROWS = 500  # train / val / test: 343 / 73 / 75 rows after the features' warm-up
MODELS = ["linear", "rnn", "lstm", "gru"]
PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return load_sample(ROOT / "data/sample/stocks.csv", "AAPL").iloc[:ROWS]


@pytest.fixture(scope="module")
def original(prices, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("original")
    prepare_windows(workdir, PARAMS, prices)
    return workdir


def _split_end(workdir: Path, split: str) -> pd.Timestamp:
    return pd.Timestamp(json.loads((workdir / "data/split/ranges.json").read_text())[split]["end"])


def _replaced_after(prices: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Every value dated after `end` replaced by unrelated positive numbers."""
    changed = prices.copy()
    later = changed["date"] > end
    rng = np.random.default_rng(99)
    for column in PRICE_COLUMNS:
        changed.loc[later, column] = rng.uniform(1, 1e4, later.sum()).astype(prices[column].dtype)
    assert (
        later.sum() > 0
        and (changed.loc[later, PRICE_COLUMNS] != prices.loc[later, PRICE_COLUMNS]).all().all()
    )
    return changed


def _windows(workdir: Path, split: str) -> Windows:
    return Windows.load(workdir / "data/windows" / f"{split}.npz")


def _identical(a: Windows, b: Windows) -> bool:
    return (
        all(
            getattr(a, field).tobytes() == getattr(b, field).tobytes()
            for field in ("x", "y", "target_dates", "origin_dates", "feature_names")
        )
        and a.target_index == b.target_index
    )


def test_values_after_the_training_split_reach_neither_training_windows_nor_scaler(
    prices, original, tmp_path
):
    changed = tmp_path / "changed"
    prepare_windows(changed, PARAMS, _replaced_after(prices, _split_end(original, "train")))

    assert (changed / "data/scaled/scaler.json").read_bytes() == (
        original / "data/scaled/scaler.json"
    ).read_bytes()
    assert _identical(_windows(changed, "train"), _windows(original, "train"))
    # The replacement did reach the pipeline: the later splits' windows changed.
    assert not _identical(_windows(changed, "val"), _windows(original, "val"))
    assert not _identical(_windows(changed, "test"), _windows(original, "test"))


def test_values_after_the_validation_split_do_not_change_trained_weights(
    prices, original, tmp_path
):
    changed = tmp_path / "changed"
    prepare_windows(changed, PARAMS, _replaced_after(prices, _split_end(original, "val")))
    assert _identical(_windows(changed, "val"), _windows(original, "val"))
    assert not _identical(_windows(changed, "test"), _windows(original, "test"))

    for model in MODELS:
        before, after = train(original, model), train(changed, model)
        files = sorted(p.name for p in before.iterdir())
        assert files == sorted(p.name for p in after.iterdir())
        for name in files:  # weights (or coefficients), config and loss history
            assert (before / name).read_bytes() == (after / name).read_bytes(), (model, name)
        history = json.loads((before / "history.json").read_text())
        if model != "linear":  # early stopping decided the result, on validation loss
            assert len(history["val_loss"]) < PARAMS["train"]["max_epochs"], model
            assert len(history["val_loss"]) == history["best_epoch"] + PARAMS["train"]["patience"]
