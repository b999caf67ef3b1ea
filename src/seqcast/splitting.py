"""Split a time-ordered table into contiguous train / val / test blocks by position.

Every row gets a label: train, then gap, val, gap, test. Gap rows are never targets
(they purge the boundary), but later windows may still read them as history.
"""

import numpy as np
import pandas as pd

from seqcast.errors import SeqcastError

SPLITS = ("train", "val", "test")


def split_labels(n_rows: int, train: float, val: float, gap: int = 0) -> np.ndarray:
    # The epsilon keeps exact products exact: int(100 * 0.57) would give 56.
    n_train = int(n_rows * train + 1e-9)
    n_val = int(n_rows * val + 1e-9)
    n_test = n_rows - n_train - n_val - 2 * gap
    if min(n_train, n_val, n_test) < 1:
        raise SeqcastError(
            f"{n_rows} rows cannot be split into train ({n_train}), val ({n_val}) and test "
            f"({n_test}) with split.gap = {gap}: use a longer series or other fractions"
        )
    counts = [n_train, gap, n_val, gap, n_test]
    names = ["train", "gap", "val", "gap", "test"]
    return np.repeat(np.array(names, dtype=object), counts)


def split_table(table: pd.DataFrame, train: float, val: float, gap: int = 0) -> pd.DataFrame:
    if not table.index.is_monotonic_increasing or table.index.has_duplicates:
        raise SeqcastError("dates must be unique and increasing before splitting")
    labelled = table.copy()
    labelled["split"] = split_labels(len(table), train, val, gap)
    return labelled


def date_ranges(labelled: pd.DataFrame) -> dict[str, dict[str, object]]:
    ranges = {}
    for name in SPLITS:
        dates = labelled.index[labelled["split"] == name]
        ranges[name] = {
            "rows": len(dates),
            "start": dates[0].strftime("%Y-%m-%d"),
            "end": dates[-1].strftime("%Y-%m-%d"),
        }
    return ranges
