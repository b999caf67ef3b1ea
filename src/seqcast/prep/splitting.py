"""Split a time-ordered table into contiguous train / val / test blocks by position.

Every row gets a label: train, then gap, val, gap, test. Gap rows are never targets
(they purge the boundary), but later windows may still read them as history.

The test block is the rows left after the train and val fractions, or exactly the last
`test_rows` rows, or every row from `test_start` on; in the last two cases train and val
share the rows before it in the proportion train : val. With val = 0 there is no
validation block, and one gap separates train from test.
"""

from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from seqcast.config import Fraction, IsoDate, PositiveInt, Section
from seqcast.errors import SeqcastError

SPLITS = ("train", "val", "test")


def split_labels(
    n_rows: int, train: float, val: float, gap: int = 0, test_rows: int | None = None
) -> np.ndarray:
    gaps = 2 * gap if val > 0 else gap
    if test_rows is None:
        # The epsilon keeps exact products exact: int(100 * 0.57) would give 56.
        n_train = int(n_rows * train + 1e-9)
        n_val = int(n_rows * val + 1e-9)
        n_test = n_rows - n_train - n_val - gaps
    else:
        n_test = test_rows
        before = max(n_rows - n_test - gaps, 0)
        n_val = int(before * val / (train + val) + 1e-9)
        n_train = before - n_val
    if min(n_train, n_test) < 1 or (val > 0 and n_val < 1) or n_train + n_val + n_test > n_rows:
        how = "other fractions" if test_rows is None else "a smaller test block"
        raise SeqcastError(
            f"{n_rows} rows cannot be split into train ({n_train}), val ({n_val}) and test "
            f"({n_test}) with split.gap = {gap}: use a longer series or {how}"
        )
    counts = [n_train, gap if val > 0 else 0, n_val, gap, n_test]
    names = ["train", "gap", "val", "gap", "test"]
    return np.repeat(np.array(names, dtype=object), counts)


def rows_from_date(dates: pd.DatetimeIndex, test_start: str) -> int:
    """How many of `dates` lie on or after `test_start` (split.test_start)."""
    rows = len(dates) - int(dates.searchsorted(pd.Timestamp(test_start), side="left"))
    if rows < 1:
        raise SeqcastError(
            f"split.test_start = {test_start}: no date on or after it; the data end on "
            f"{dates[-1]:%Y-%m-%d}"
        )
    return rows


def labels_for(dates: pd.DatetimeIndex, split: Any) -> np.ndarray:
    """The labels of these dates as the split params (train, val, gap, test_rows,
    test_start) ask."""
    test_rows = split.test_rows
    if split.test_start is not None:
        test_rows = rows_from_date(dates, split.test_start)
    return split_labels(len(dates), split.train, split.val, split.gap, test_rows)


def split_table(table: pd.DataFrame, split: Any) -> pd.DataFrame:
    """`table` with a split column, as the split params ask."""
    if not table.index.is_monotonic_increasing or table.index.has_duplicates:
        raise SeqcastError("dates must be unique and increasing before splitting")
    labelled = table.copy()
    labelled["split"] = labels_for(pd.DatetimeIndex(table.index), split)
    return labelled


def date_ranges(labelled: pd.DataFrame) -> dict[str, dict[str, object]]:
    ranges = {}
    for name in SPLITS:
        dates = labelled.index[labelled["split"] == name]
        if not len(dates):  # no validation block (split.val = 0)
            ranges[name] = {"rows": 0, "start": None, "end": None}
            continue
        ranges[name] = {
            "rows": len(dates),
            "start": dates[0].strftime("%Y-%m-%d"),
            "end": dates[-1].strftime("%Y-%m-%d"),
        }
    return ranges


class SplitParams(Section):
    train: Fraction = 0.7
    val: Annotated[float, Field(ge=0, lt=1)] = 0.15  # 0: no validation block
    gap: Annotated[int, Field(ge=0)] = 0
    test_rows: PositiveInt | None = None  # the last N rows are the test block
    test_start: IsoDate | None = None  # or: the test block starts on this date

    @model_validator(mode="after")
    def _leaves_a_test_split(self) -> "SplitParams":
        if self.test_rows is not None and self.test_start is not None:
            raise ValueError(
                f"split.test_rows = {self.test_rows} and split.test_start = "
                f"{self.test_start}: set one of them (or neither, for the fractions)"
            )
        fixed = self.test_rows is not None or self.test_start is not None
        if not fixed and self.train + self.val >= 1:
            raise ValueError(
                f"split.train + split.val = {self.train + self.val:g}: must be below 1 "
                "so that a test split remains"
            )
        return self
