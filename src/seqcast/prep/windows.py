"""Sliding windows (X, y, target dates) per split, built without a Python loop over rows.

The window for target row t covers rows t - horizon - length + 1 ... t - horizon. A
window belongs to the split of its target row, so its inputs may come from earlier
splits (history) but never from a later one, and no split's target ever leaks into
another split's inputs.

With `steps` > 1 (direct multi-step) each window has the targets of `steps` consecutive
rows from its origin + horizon on, y of shape (n, steps), and belongs to a split only if
every one of its targets lies in that split.
"""

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from seqcast import atomic
from seqcast.config import PositiveInt, Section
from seqcast.errors import SeqcastError
from seqcast.prep.splitting import SPLITS
from seqcast.unreadable import REWINDOW, unreadable


@dataclass(frozen=True)
class Windows:
    x: np.ndarray  # (n_windows, length, n_features), scaled inputs
    y: np.ndarray  # (n_windows,) or (n_windows, steps), scaled target at target_dates
    target_dates: np.ndarray  # same shape as y, datetime64[ns]
    origin_dates: np.ndarray  # (n_windows,) date of each window's last input row
    feature_names: np.ndarray  # (n_features,) str
    target_index: int  # column of x that holds the target series
    target_transform: str = "level"  # what y encodes: see seqcast.prep.transforms

    def __len__(self) -> int:
        return len(self.y)

    @property
    def length(self) -> int:
        """Rows of history in each window."""
        return self.x.shape[1]

    def save(self, path: str | Path) -> None:
        def write(tmp: Path) -> None:
            with tmp.open("wb") as handle:
                # A sliding view is saved as the rows it slides over, not window by window.
                rows = sliding_rows(self.x)
                inputs = {"x": self.x} if rows is None else {"rows": rows, "length": self.length}
                np.savez(
                    handle,
                    **inputs,
                    y=self.y,
                    target_dates=self.target_dates,
                    origin_dates=self.origin_dates,
                    feature_names=self.feature_names,
                    target_index=np.array(self.target_index),
                    target_transform=np.array(self.target_transform),
                )

        atomic.write_with(path, write)

    @classmethod
    def load(cls, path: str | Path) -> "Windows":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                if "rows" in data:
                    x = sliding_windows(data["rows"], int(data["length"]))
                else:
                    x = data["x"]
                return cls(
                    x=x,
                    y=data["y"],
                    target_dates=data["target_dates"],
                    origin_dates=data["origin_dates"],
                    feature_names=data["feature_names"],
                    target_index=int(data["target_index"]),
                    target_transform=str(data["target_transform"]),
                )
        except ValueError as exc:
            if "allow_pickle" not in str(exc):  # numpy's words for an object array or pickle
                raise unreadable(path, exc, REWINDOW) from None
            raise SeqcastError(
                f"{path}: refused to load, holds pickled objects rather than plain arrays: "
                f"{REWINDOW}"
            ) from None
        # What a missing, truncated or garbled archive raises; KeyError: an array is missing.
        except (OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError) as exc:
            raise unreadable(path, exc, REWINDOW) from None


def sliding_rows(x: np.ndarray) -> np.ndarray | None:
    """The (n_windows + length - 1, n_features) rows that `x` slides over, as a view, when
    `x` is such a sliding view (window i + 1 starts one row after window i); else None.

    Element x[i, j, k] lies at i * s0 + j * s1 + k * s2 bytes: with s0 == s1 that is row
    i + j, column k of the block, so equal strides are the whole test."""
    if x.ndim != 3 or len(x) == 0 or x.strides[0] != x.strides[1]:
        return None
    n_rows = len(x) + x.shape[1] - 1
    return as_strided(x, (n_rows, x.shape[2]), x.strides[1:], writeable=False)


def sliding_windows(rows: np.ndarray, length: int) -> np.ndarray:
    """Every window of `length` consecutive rows, (n_rows - length + 1, length, n_features),
    as a read-only view of `rows`: no window is copied."""
    return sliding_window_view(rows, length, axis=0).transpose(0, 2, 1)


def _block(in_split: np.ndarray) -> tuple[int, int] | None:
    """First and last row of a split if its rows are one contiguous block, else None."""
    count = int(in_split.sum())
    if not count:
        return None
    first = int(in_split.argmax())
    last = first + count - 1
    return (first, last) if in_split[first : last + 1].all() else None


def _kept_windows(
    in_split: np.ndarray, first_origin: int, n_windows: int, horizon: int, steps: int
) -> slice | np.ndarray:
    """The windows whose targets (rows origin + horizon ... + steps - 1) all lie in a split:
    window k has its origin on row first_origin + k."""
    block = _block(in_split)
    if block is not None:  # a contiguous range of windows, so a view of them
        start = max(0, block[0] - horizon - first_origin)
        stop = min(n_windows, block[1] - horizon - steps + 1 - first_origin + 1)
        return slice(start, max(start, stop))
    targets = first_origin + np.arange(n_windows)[:, None] + horizon + np.arange(steps)
    return np.flatnonzero(in_split[targets].all(axis=1))  # labels that interleave: a copy


def make_windows(
    table: pd.DataFrame,
    target: str,
    length: int,
    horizon: int,
    steps: int = 1,
    splits: tuple[str, ...] = SPLITS,
) -> dict[str, Windows]:
    """Windows per split from a date-indexed, scaled table with a `split` column.

    Each split's windows, targets and dates are read-only views of one copy of the table's
    values and of its dates (a split's rows form one block): a million rows in windows of
    60 take no more memory than the rows themselves, and a later change to the table
    changes no window.
    """
    features = table.drop(columns="split")
    values = features.to_numpy(dtype="float64", copy=True)  # (n_rows, n_features)
    values.flags.writeable = False
    dates = table.index.to_numpy(dtype="datetime64[ns]")
    target_index = features.columns.get_loc(target)
    feature_names = np.array(features.columns, dtype=str)
    in_split = {split: (table["split"] == split).to_numpy(dtype=bool) for split in SPLITS}
    n_rows = len(values)
    n_train = int(in_split["train"].sum())
    reach = horizon + steps - 1  # rows from the origin to the last target
    if length + reach > n_train:
        with_steps = f" and multistep.steps = {steps}" if steps > 1 else ""
        raise SeqcastError(
            f"window.length = {length}: too long for the training split of {n_train} rows "
            f"(with window.horizon = {horizon}{with_steps}); it must be at most {n_train - reach}"
        )
    n_windows = n_rows - length - reach + 1
    first_origin = length - 1
    # Window k covers rows k ... k + length - 1; its targets are the rows from its origin
    # (its last row) + horizon on, `steps` of them: y[k] = targets[k + first_origin + horizon].
    all_windows = sliding_windows(values, length)[:n_windows]
    all_origins = dates[first_origin : first_origin + n_windows]
    target_rows = slice(first_origin + horizon, first_origin + horizon + n_windows)
    if steps == 1:
        all_y, all_dates = values[target_rows, target_index], dates[target_rows]
    else:  # (n, steps) views: row k holds the targets of window k
        all_y = sliding_window_view(values[first_origin + horizon :, target_index], steps)
        all_dates = sliding_window_view(dates[first_origin + horizon :], steps)

    result = {}
    for split in splits:
        kept = _kept_windows(in_split[split], first_origin, n_windows, horizon, steps)
        origins = all_origins[kept]
        n_split = int(in_split[split].sum())
        # split.val = 0: no validation block, so no validation windows, by request
        if not len(origins) and (split != "val" or n_split):
            if n_split and steps > 1:
                raise SeqcastError(
                    f"no {split} windows: the {split} split has {n_split} rows, fewer than "
                    f"multistep.steps = {steps}"
                )
            raise SeqcastError(f"no {split} windows: the {split} split is empty")
        result[split] = Windows(
            x=all_windows[kept],
            y=all_y[kept],
            target_dates=all_dates[kept],
            origin_dates=origins,
            feature_names=feature_names,
            target_index=int(target_index),
        )
    return result


class WindowParams(Section):
    length: PositiveInt = 90
    horizon: PositiveInt = 1
