"""Conformal prediction intervals, per forecast step, from errors on unseen data.

Split conformal prediction: a model forecasts steps 1..k from every origin of a block it
never trained on (the validation split, or a backtest fold's validation block); for each
step h, the sizes of those origins' errors give the half-width of the interval at level L
as their ceil((n + 1) L)-th smallest of n. If the errors of new origins are exchangeable
with these, the interval holds the actual price with probability at least L. With fewer
than 1 / (1 - L) - 1 errors no finite width can promise L, and the width is infinite:
honest rather than narrow.

Errors are measured one of two ways (forecast.intervals):
- relative: log(actual / forecast), so the interval is forecast * exp(+-w). A price that
  doubles from the calibration block to the test split keeps its coverage as long as its
  percentage moves stay alike. Prices and forecasts must be positive.
- absolute: actual - forecast in price units, interval forecast +- w: for series whose
  noise does not grow with their level (a volume near 0, an additive synthetic noise).
- auto (the default): relative when every price and forecast of the calibration block is
  positive, else absolute. The choice is recorded beside the widths.

Coverage measured on the test split and on the backtest folds shows whether the
calibration block was like the days that followed.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from seqcast.errors import SeqcastError
from seqcast.forecasting.multistep import recursive_forecast
from seqcast.models import Forecaster
from seqcast.prep.preprocessing import Preprocessing

LEVELS = (0.8, 0.95)


def level_name(level: float) -> str:
    """80 for 0.8: the suffix of the lower_80 / upper_80 columns."""
    return f"{round(level * 100):g}"


def conformal_width(errors: np.ndarray, level: float) -> float:
    """The ceil((n + 1) level)-th smallest absolute error; infinite when n is too small."""
    n = len(errors)
    rank = math.ceil((n + 1) * level - 1e-9)
    if rank > n:
        return math.inf
    return float(np.sort(np.abs(errors))[rank - 1])


@dataclass(frozen=True)
class StepErrors:
    """Forecasts of steps 1..k from every origin whose first target lies in one block."""

    predicted: np.ndarray  # (origins, steps) prices
    actual: np.ndarray  # (origins, steps): NaN where the target falls outside the block

    def positive(self) -> bool:
        """Whether every forecast, and every actual price inside the block, is above 0."""
        known = ~np.isnan(self.actual)
        return bool((self.predicted > 0).all() and (self.actual[known] > 0).all())

    def errors(self, kind: str) -> list[np.ndarray]:
        """Step h's errors over the origins whose target is in the block: log(actual /
        forecast) if `kind` is relative, actual - forecast if absolute."""
        known = ~np.isnan(self.actual)
        if kind == "relative":
            bad = known & ((self.actual <= 0) | (self.predicted <= 0))
            if bad.any():
                raise SeqcastError(
                    f"forecast.intervals = relative: {int(bad.sum())} prices or forecasts are "
                    "not positive, so their ratio has no logarithm; set forecast.intervals: "
                    "absolute"
                )
            with np.errstate(invalid="ignore", divide="ignore"):
                diff = np.log(self.actual / self.predicted)
        else:
            diff = self.actual - self.predicted
        return [column[keep] for column, keep in zip(diff.T, known.T, strict=True)]


def block_forecasts(
    model: Forecaster,
    prep: Preprocessing,
    prices: np.ndarray,
    labels: np.ndarray,
    block: str,
    steps: int,
) -> StepErrors:
    """Recursive forecasts of 1..`steps` days from each origin whose next day is labelled
    `block`, with their actual prices where the target day is in `block` too."""
    prices = np.asarray(prices, dtype="float64")
    labels = np.asarray(labels)
    inside = labels == block
    context = prep.context
    origins = np.flatnonzero(inside[1:])  # row i is an origin when row i + 1 is in the block
    origins = origins[origins + 1 >= context]
    if len(origins) == 0:
        raise SeqcastError(
            f"no {block} origin has the {context} days of history that a forecast needs"
        )
    history = sliding_window_view(prices, context)[origins - context + 1]
    predicted = recursive_forecast(model, prep, history, steps)
    rows = origins[:, None] + np.arange(1, steps + 1)
    valid = rows < len(prices)
    valid[valid] = inside[rows[valid]]
    actual = np.full(rows.shape, np.nan)
    actual[valid] = prices[rows[valid]]
    return StepErrors(predicted, actual)


@dataclass(frozen=True)
class Intervals:
    """Half-widths per step and level, of the kind of error they were calibrated on."""

    levels: tuple[float, ...]
    widths: np.ndarray  # (steps, levels): of log(actual / forecast), or in price units
    errors_per_step: tuple[int, ...]  # n behind each step's widths
    calibrated_on: str  # e.g. "validation: 2019-03-01 to 2020-01-31"
    kind: str = "relative"  # relative or absolute: auto is resolved by calibrate

    @property
    def steps(self) -> int:
        return self.widths.shape[0]

    def bounds(self, forecast: np.ndarray) -> dict[str, np.ndarray]:
        """lower_80, upper_80, ... for a forecast of steps 1..len(forecast)."""
        steps = forecast.shape[-1]
        if steps > self.steps:
            raise SeqcastError(
                f"the intervals are calibrated for 1 to {self.steps} steps, not {steps}: "
                f"forecast at most {self.steps} days, or calibrate for more (forecast.days)"
            )
        if self.kind == "relative" and (forecast <= 0).any():
            raise SeqcastError(
                "a forecast is not positive, so it has no relative interval; calibrate with "
                "forecast.intervals: absolute"
            )
        columns = {}
        for j, level in enumerate(self.levels):
            width = self.widths[:steps, j]
            if self.kind == "relative":
                with np.errstate(over="ignore"):
                    lower, upper = forecast * np.exp(-width), forecast * np.exp(width)
            else:
                lower, upper = forecast - width, forecast + width
            columns[f"lower_{level_name(level)}"] = lower
            columns[f"upper_{level_name(level)}"] = upper
        return columns

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": f"split conformal on {self.kind} errors, per step",
            "errors": self.kind,
            "calibrated_on": self.calibrated_on,
            "levels": list(self.levels),
            "errors_per_step": list(self.errors_per_step),
            # JSON has no infinity: null stands for an unbounded interval.
            "half_widths": {
                level_name(level): [None if math.isinf(w) else w for w in self.widths[:, j]]
                for j, level in enumerate(self.levels)
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Intervals":
        levels = tuple(float(level) for level in data["levels"])
        widths = np.array(
            [
                [math.inf if w is None else w for w in data["half_widths"][level_name(level)]]
                for level in levels
            ],
            dtype="float64",
        ).T
        return cls(
            levels,
            widths,
            tuple(data["errors_per_step"]),
            str(data["calibrated_on"]),
            str(data["errors"]),
        )


def calibrate(
    errors: StepErrors,
    calibrated_on: str,
    kind: str = "auto",
    levels: tuple[float, ...] = LEVELS,
) -> Intervals:
    """Conformal half-widths for every step and level from a block's errors of `kind`
    (auto: relative if the block's prices and forecasts are all positive, else absolute)."""
    if kind == "auto":
        kind = "relative" if errors.positive() else "absolute"
    per_step = errors.errors(kind)
    widths = np.array([[conformal_width(e, level) for level in levels] for e in per_step])
    return Intervals(levels, widths, tuple(len(e) for e in per_step), calibrated_on, kind)


def coverage(errors: StepErrors, intervals: Intervals) -> dict[str, Any]:
    """How often the actual price fell inside each interval, over every (origin, step)
    pair of the block and per step, beside the nominal level and the mean half-width (of
    the log ratio for relative intervals: 0.02 is about 2%)."""
    per_step = errors.errors(intervals.kind)
    result: dict[str, Any] = {"pairs": int(sum(len(e) for e in per_step))}
    for j, level in enumerate(intervals.levels):
        widths = intervals.widths[: len(per_step), j]
        inside = [np.abs(e) <= w for e, w in zip(per_step, widths, strict=True)]
        hits = np.concatenate(inside)
        result[level_name(level)] = {
            "nominal": level,
            "coverage": float(hits.mean()) if len(hits) else None,
            "by_step": [float(h.mean()) if len(h) else None for h in inside],
            "mean_half_width": float(np.mean(widths)),
        }
    return result
