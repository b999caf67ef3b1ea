"""Target transforms: what a model learns to predict, and how its output becomes a price again.

For a window whose last input row (the origin) has price p0 and whose target row has price p:

    level       y = (p - offset) / scale         the target column's own input scaler
    difference  y = (p - p0) / s                 the change since the origin
    log_return  y = log(p / p0) / s              the log return since the origin

With several outputs (direct multi-step), output k is the change from the origin to day k,
and each has its own s. s is the root mean square of that change over the training windows
only: a pure scale, without an offset, so that a prediction of 0 means "no change", which
is what the naive forecast predicts under either change transform.

Decoding anchors each forecast on the origin's observed price, so a model of changes is not
bounded by the price range it was trained on, which a model of the level is. Metrics are
always computed on decoded prices.
"""

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from seqcast.config import Section
from seqcast.errors import SeqcastError
from seqcast.prep.scaling import AffineScaler
from seqcast.prep.windows import Windows

TRANSFORMS = ("level", "difference", "log_return")


def _check_positive(levels: np.ndarray) -> None:
    if np.any(levels <= 0):
        raise SeqcastError(
            "target.transform = 'log_return' needs prices above 0; the target series has "
            f"values down to {np.min(levels):g}: use 'difference' instead"
        )


def raw_change(transform: str, origin: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The unscaled change from `origin` (n,) to `target` (n,) or (n, k) prices."""
    origin = np.asarray(origin, dtype="float64")
    target = np.asarray(target, dtype="float64")
    anchor = origin if target.ndim == 1 else origin[:, None]
    if transform == "difference":
        return target - anchor
    if transform == "log_return":
        _check_positive(origin)
        _check_positive(target)
        return np.log(target / anchor)
    raise SeqcastError(f"target.transform = {transform!r}: not a change; choose from {TRANSFORMS}")


@dataclass(frozen=True)
class TargetCoder:
    """Encodes prices into the scaled target a model learns, and decodes its predictions."""

    transform: str
    level_offset: float  # level: the target column's scaler
    level_scale: float
    change_scale: tuple[float, ...] = ()  # difference / log_return: one s per output step

    def encode(self, origin: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Prices at the origin (n,) and target date(s) (n,) or (n, k) -> scaled targets."""
        if self.transform == "level":
            return (np.asarray(target, dtype="float64") - self.level_offset) / self.level_scale
        return raw_change(self.transform, origin, target) / self._scale(np.ndim(target))

    def decode(self, y: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """Scaled predictions (n,) or (n, k) and origin prices (n,) -> predicted prices."""
        y = np.asarray(y, dtype="float64")
        if self.transform == "level":
            # The same operations as AffineScaler.inverse_transform_column: same digits.
            return y * self.level_scale + self.level_offset
        anchor = np.asarray(origin, dtype="float64")
        anchor = anchor if y.ndim == 1 else anchor[:, None]
        change = y * self._scale(y.ndim)
        if self.transform == "difference":
            return anchor + change
        return anchor * np.exp(change)

    def _scale(self, ndim: int) -> np.ndarray | float:
        scale = np.asarray(self.change_scale, dtype="float64")
        return float(scale[0]) if ndim == 1 else scale

    def to_dict(self) -> dict[str, Any]:
        return {
            "transform": self.transform,
            "level_offset": self.level_offset,
            "level_scale": self.level_scale,
            "change_scale": list(self.change_scale),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "TargetCoder":
        return cls(
            transform=state["transform"],
            level_offset=float(state["level_offset"]),
            level_scale=float(state["level_scale"]),
            change_scale=tuple(float(s) for s in state["change_scale"]),
        )


def fit_coder(
    transform: str,
    scaler: AffineScaler,
    target_index: int,
    train_origin: np.ndarray,
    train_target: np.ndarray,
) -> TargetCoder:
    """Learn the coder from the training windows' prices only (origin (n,), target (n[, k]))."""
    if transform not in TRANSFORMS:
        raise SeqcastError(f"target.transform = {transform!r}: choose from {', '.join(TRANSFORMS)}")
    level = {
        "level_offset": float(scaler.offset_[target_index]),
        "level_scale": float(scaler.scale_[target_index]),
    }
    if transform == "level":
        return TargetCoder(transform, **level)
    change = raw_change(transform, train_origin, train_target)
    change = change if change.ndim == 2 else change[:, None]  # (n, k)
    scale = np.sqrt(np.mean(change**2, axis=0))
    if np.any(scale == 0):
        raise SeqcastError(
            f"target.transform = {transform!r}: the target never changes over the training "
            "windows, so there is nothing to learn"
        )
    return TargetCoder(transform, change_scale=tuple(float(s) for s in scale), **level)


def window_prices(windows: Windows, levels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Unscaled prices at each window's origin (n,) and target date(s) (n,) or (n, steps)."""
    origin = levels.loc[pd.DatetimeIndex(windows.origin_dates)].to_numpy(dtype="float64")
    target_dates = pd.DatetimeIndex(windows.target_dates.ravel())
    target = levels.loc[target_dates].to_numpy(dtype="float64")
    return origin, target.reshape(windows.target_dates.shape)


def encode_windows(windows: Windows, coder: TargetCoder, levels: pd.Series) -> Windows:
    """The windows with y re-encoded from the unscaled `levels` (a date-indexed price series).

    Level windows are returned unchanged: their y is already the scaled price, with the
    same digits the coder would give.
    """
    if coder.transform == "level":
        return windows
    origin, target = window_prices(windows, levels)
    return replace(windows, y=coder.encode(origin, target), target_transform=coder.transform)


class TargetParams(Section):
    transform: Literal["level", "difference", "log_return"] = "difference"
