"""Window-relative inputs: a network reads each window's prices relative to its last day.

A network fit on the training years meets price levels on the test years that it never
saw: the scaled inputs leave the range they were fit on, and a saturating network then
answers with a bias. With `inputs: relative` (each network's default), every column of a
window except the one-day return has its value on the window's last day subtracted, so
the network reads the shape of the recent past, which does not depend on the level. The
change since that day is what a change target (difference, log_return) asks for, so
nothing the network needs is lost. A level target keeps absolute inputs: from relative
prices alone no network could tell the level.

The anchored columns are part of the fitted model (saved in its config), so that every
caller of `predict` (evaluation, the recursive rollout, the forecast) feeds the network
exactly what it was trained on.
"""

from dataclasses import replace
from typing import Literal

import numpy as np

from seqcast.data.features import is_return_column
from seqcast.prep.windows import Windows

Inputs = Literal["relative", "absolute"]


def anchored_columns(windows: Windows, inputs: Inputs) -> tuple[int, ...]:
    """Indices of the columns to express relative to the window's last day."""
    if inputs == "absolute" or windows.target_transform == "level":
        return ()
    names = [str(name) for name in windows.feature_names]
    return tuple(i for i, name in enumerate(names) if not is_return_column(name))


def anchor(x: np.ndarray, columns: tuple[int, ...]) -> np.ndarray:
    """(n, length, features) windows with `columns` minus their value on the last day."""
    if not columns:
        return x
    out = np.array(x, dtype=np.float64)  # a copy: the caller's windows stay as they are
    cols = list(columns)
    out[:, :, cols] -= out[:, -1:, cols]  # (n, length, k) - (n, 1, k)
    return out


def anchor_windows(windows: Windows, columns: tuple[int, ...]) -> Windows:
    return replace(windows, x=anchor(windows.x, columns)) if columns else windows
