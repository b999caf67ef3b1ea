"""Walk-forward folds: where each fold's origin lies, and which rows it trains, validates
and tests on. Free of models, so that the check stage can cut every fold in seconds.

A fold is defined by its origin, the last date it may learn from: a date, or a fold number
k, whose test block is the k-th block of `test_days` trading days counted back from the
start of the pipeline's test split (1: the block just before it), so that the default
folds fit any series and never score on the test split. Its test block is the
`test_days` trading days after the origin, its validation block (early stopping) the
`val_days` days up to and including the origin, and its training block everything
before that (expanding) or only the last `train_days` days (sliding).
"""

import datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BeforeValidator, Field, model_validator

from seqcast.config import PositiveInt, Section, is_iso_date
from seqcast.errors import SeqcastError
from seqcast.models.catalog import known_model as _known_model
from seqcast.prep.splitting import SplitParams, labels_for


def origin_date(
    origin: int | str, features: pd.DataFrame, split: SplitParams, test_days: int
) -> datetime.date:
    """The date of a backtest origin: a date as it is, a fold number resolved on the data."""
    if isinstance(origin, str):
        return datetime.date.fromisoformat(origin)
    labels = labels_for(pd.DatetimeIndex(features.index), split)
    end = int(np.argmax(labels == "test")) - split.gap  # the fold blocks end before the gap
    row = end - origin * test_days - 1
    if row < 0:
        raise SeqcastError(
            f"backtest.origins: fold {origin} would end {origin} x backtest.test_days = "
            f"{origin * test_days} trading days before the test split, which starts "
            f"{end} days into the data; use fewer folds or a smaller backtest.test_days"
        )
    return features.index[row].date()


def fold_table(
    features: pd.DataFrame,
    origin: datetime.date,
    *,
    scheme: Literal["expanding", "sliding"],
    train_days: int,
    val_days: int,
    test_days: int,
) -> pd.DataFrame:
    """The fold's rows of the feature table, labelled train / val / test in a split column."""
    dates = features.index
    origin_row = int(dates.searchsorted(pd.Timestamp(origin), side="right")) - 1
    when = f"backtest.origins: {origin.isoformat()}"
    if origin_row < 0:
        raise SeqcastError(f"{when} is before the first date, {dates[0]:%Y-%m-%d}")
    after = len(dates) - origin_row - 1
    if after < test_days:
        raise SeqcastError(
            f"{when} leaves {after} trading days after it, fewer than backtest.test_days = "
            f"{test_days}; choose an earlier origin"
        )
    train_end = origin_row - val_days + 1  # first val row
    train_start = 0 if scheme == "expanding" else train_end - train_days
    if train_start < 0 or train_end <= train_start:
        need = f"{train_days} training days" if scheme == "sliding" else "a training block"
        raise SeqcastError(
            f"{when} has {origin_row + 1} days up to it, too few for backtest.val_days = "
            f"{val_days} and {need}; choose a later origin"
        )
    rows = slice(train_start, origin_row + test_days + 1)
    table = features.iloc[rows].copy()
    table["split"] = np.repeat(
        np.array(["train", "val", "test"], dtype=object),
        [train_end - train_start, val_days, test_days],
    )
    return table


def backtest_fold(
    features: pd.DataFrame, origin: datetime.date, b: "BacktestParams"
) -> pd.DataFrame:
    """`fold_table` with the scheme and block lengths of the backtest params."""
    return fold_table(
        features,
        origin,
        scheme=b.scheme,
        train_days=b.train_days,
        val_days=b.val_days,
        test_days=b.test_days,
    )


def _origin(value: Any) -> Any:
    """A fold number k >= 1, or a date written YYYY-MM-DD, quoted or not, kept as that
    string (both become DVC stage names)."""
    if isinstance(value, bool):
        raise ValueError(f"backtest.origins: {value!r} is neither a fold number nor a date")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"backtest.origins: {value} is not a fold number (1, 2, ...)")
        return value
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str) and not is_iso_date(value):
        raise ValueError(f"backtest.origins: {value!r} is not a date YYYY-MM-DD nor a fold number")
    return value


Origin = Annotated[int | str, BeforeValidator(_origin)]


class BacktestParams(Section):
    # k: the fold whose test block ends k - 1 blocks of test_days before the test split, so
    # that the default fits any series; or a date: the last day the fold learns from.
    origins: list[Origin] = Field(default_factory=lambda: [3, 2, 1])
    models: list[str] = Field(default_factory=lambda: ["naive", "linear"])
    scheme: Literal["expanding", "sliding"] = "expanding"
    train_days: PositiveInt = 1500
    val_days: PositiveInt = 250
    test_days: PositiveInt = 100

    @model_validator(mode="after")
    def _known_models_and_ordered_origins(self) -> "BacktestParams":
        for name in self.models:
            _known_model("backtest.models contains", name)
        if self.origins and not self.models:
            raise ValueError(
                "backtest.models is empty: list the models each fold retrains, or leave "
                "backtest.origins empty (no walk-forward backtest)"
            )
        if len({str(o) for o in self.origins}) != len(self.origins):
            raise ValueError(f"backtest.origins = {self.origins}: list each origin once")
        return self
