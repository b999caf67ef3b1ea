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
from numpy.lib.stride_tricks import sliding_window_view

from seqcast import atomic
from seqcast.errors import SeqcastError
from seqcast.splitting import SPLITS
from seqcast.unreadable import REWINDOW, unreadable


@dataclass(frozen=True)
class Windows:
    x: np.ndarray  # (n_windows, length, n_features), scaled inputs
    y: np.ndarray  # (n_windows,) or (n_windows, steps), scaled target at target_dates
    target_dates: np.ndarray  # same shape as y, datetime64[ns]
    origin_dates: np.ndarray  # (n_windows,) date of each window's last input row
    feature_names: np.ndarray  # (n_features,) str
    target_index: int  # column of x that holds the target series
    target_transform: str = "level"  # what y encodes: see seqcast.transforms

    def __len__(self) -> int:
        return len(self.y)

    def save(self, path: str | Path) -> None:
        def write(tmp: Path) -> None:
            with tmp.open("wb") as handle:
                np.savez(
                    handle,
                    x=self.x,
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
                return cls(
                    x=data["x"],
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


def make_windows(
    table: pd.DataFrame, target: str, length: int, horizon: int, steps: int = 1
) -> dict[str, Windows]:
    """Windows per split from a date-indexed, scaled table with a `split` column."""
    features = table.drop(columns="split")
    values = features.to_numpy(dtype="float64")  # (n_rows, n_features)
    labels = table["split"].to_numpy()
    dates = table.index.to_numpy(dtype="datetime64[ns]")
    target_index = features.columns.get_loc(target)
    n_rows = len(values)
    n_train = int((labels == "train").sum())
    reach = horizon + steps - 1  # rows from the origin to the last target
    if length + reach > n_train:
        with_steps = f" and multistep.steps = {steps}" if steps > 1 else ""
        raise SeqcastError(
            f"window.length = {length}: too long for the training split of {n_train} rows "
            f"(with window.horizon = {horizon}{with_steps}); it must be at most {n_train - reach}"
        )
    n_windows = n_rows - length - reach + 1
    # (n_rows - length + 1, n_features, length) -> (n_windows, length, n_features)
    all_windows = sliding_window_view(values, length, axis=0).transpose(0, 2, 1)[:n_windows]
    origin_rows = np.arange(length - 1, length - 1 + n_windows)
    target_rows = origin_rows[:, None] + horizon + np.arange(steps)  # (n_windows, steps)

    result = {}
    for split in SPLITS:
        keep = (labels[target_rows] == split).all(axis=1)
        if not keep.any():
            n_split = int((labels == split).sum())
            if n_split and steps > 1:
                raise SeqcastError(
                    f"no {split} windows: the {split} split has {n_split} rows, fewer than "
                    f"multistep.steps = {steps}"
                )
            raise SeqcastError(f"no {split} windows: the {split} split is empty")
        rows = target_rows[keep] if steps > 1 else target_rows[keep, 0]
        result[split] = Windows(
            x=np.ascontiguousarray(all_windows[keep]),
            y=values[rows, target_index],
            target_dates=dates[rows],
            origin_dates=dates[origin_rows[keep]],
            feature_names=np.array(features.columns, dtype=str),
            target_index=int(target_index),
        )
    return result
