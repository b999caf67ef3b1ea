"""Feature table from a price series: the target itself, lags, rolling statistics, returns.

Row t holds only values observed at or before date t, so a model that reads rows up to
t and predicts t + horizon never sees the future. The first rows, where a lag or a
rolling window would reach before the start of the series, are trimmed: how many is
`warmup_rows`, a pure function of the parameters.

`FeatureSpec` owns the feature names: it names each derived column, computes the table,
and rebuilds any column from a price history alone, which is what a recursive forecast
needs once its history ends in predictions.
"""

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field

from seqcast.config import Section
from seqcast.errors import SeqcastError

RETURN_SUFFIX = "_return_1"
# The kinds of derived column.
_LEVEL, _LAG, _MEAN, _STD, _RETURN = "level", "lag", "rolling_mean", "rolling_std", "return"


def is_return_column(name: str) -> bool:
    """Whether a feature column is a one-day return, a change rather than a level."""
    return name.endswith(RETURN_SUFFIX)


def warmup_rows(lags: int, rolling_windows: list[int], returns: bool) -> int:
    return max([lags, int(returns), *(w - 1 for w in rolling_windows)])


@dataclass(frozen=True)
class FeatureSpec:
    """The derived feature columns of one target series (features.*), by name and kind."""

    target: str
    lags: int
    rolling_windows: tuple[int, ...]
    returns: bool

    def kinds(self) -> dict[str, tuple[str, int]]:
        """Each derived column, in table order: its name -> (kind, size)."""
        kinds = {self.target: (_LEVEL, 0)}
        kinds.update({f"{self.target}_lag_{k}": (_LAG, k) for k in range(1, self.lags + 1)})
        for window in self.rolling_windows:
            kinds[f"{self.target}_rolling_mean_{window}"] = (_MEAN, window)
            kinds[f"{self.target}_rolling_std_{window}"] = (_STD, window)
        if self.returns:
            kinds[f"{self.target}{RETURN_SUFFIX}"] = (_RETURN, 1)
        return kinds

    @property
    def warmup_rows(self) -> int:
        return warmup_rows(self.lags, list(self.rolling_windows), self.returns)

    def make(self, prices: pd.DataFrame) -> pd.DataFrame:
        """Date-indexed table whose first column is the target, followed by derived features."""
        return make_features(
            prices, self.target, self.lags, list(self.rolling_windows), self.returns
        )

    def _kind(self, name: str) -> tuple[str, int]:
        kind = self.kinds().get(name)
        if kind is None:
            raise SeqcastError(
                f"feature column {name!r} is not a function of the {self.target!r} series "
                "alone, so a recursive forecast cannot rebuild it from predicted prices"
            )
        return kind

    def history_needed(self, columns: list[str]) -> int:
        """Past prices a row of `columns` reads besides its own day's (the feature warm-up)."""
        needs = {_LEVEL: 0, _LAG: 0, _MEAN: -1, _STD: -1, _RETURN: 0}
        return max(size + needs[kind] for kind, size in map(self._kind, columns))

    def rebuild(self, levels: np.ndarray, columns: list[str], length: int) -> np.ndarray:
        """Unscaled `columns` of the last `length` days of each price history.

        levels: (n, m) prices, oldest first, with m >= length + history_needed(columns).
        Returns (n, length, len(columns)), the same values as the feature table's rows.
        """
        levels = np.asarray(levels, dtype="float64")
        n, m = levels.shape
        needed = length + self.history_needed(columns)
        if m < needed:
            raise SeqcastError(
                f"a window of {length} days with these features needs {needed} days of "
                f"prices before the forecast origin; only {m} are available"
            )
        start = m - length  # first row of the window
        out = np.empty((n, length, len(columns)))
        for j, name in enumerate(columns):
            kind, size = self._kind(name)
            if kind == _LEVEL:
                out[:, :, j] = levels[:, start:]
            elif kind == _LAG:
                out[:, :, j] = levels[:, start - size : m - size]
            elif kind == _RETURN:
                out[:, :, j] = levels[:, start:] / levels[:, start - 1 : m - 1] - 1
            else:
                rolling = sliding_window_view(levels[:, start - size + 1 :], size, axis=1)
                # (n, length, size): the `size` days ending on each row of the window
                if kind == _MEAN:
                    out[:, :, j] = rolling.mean(axis=-1)
                else:
                    out[:, :, j] = rolling.std(axis=-1, ddof=1)  # pandas' rolling std
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "lags": self.lags,
            "rolling_windows": list(self.rolling_windows),
            "returns": self.returns,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "FeatureSpec":
        return cls(
            target=str(state["target"]),
            lags=int(state["lags"]),
            rolling_windows=tuple(int(w) for w in state["rolling_windows"]),
            returns=bool(state["returns"]),
        )


def make_features(
    prices: pd.DataFrame,
    target: str,
    lags: int,
    rolling_windows: list[int],
    returns: bool,
) -> pd.DataFrame:
    """Date-indexed table whose first column is `target`, followed by derived features."""
    series = prices.set_index("date")[target].astype("float64")
    if returns and (series <= 0).any():
        # A percentage change from zero or a negative level is infinite or meaningless.
        bad = series.index[series <= 0]
        shown = ", ".join(bad[:5].strftime("%Y-%m-%d")) + (" ..." if len(bad) > 5 else "")
        raise SeqcastError(
            f"features.returns = true: the one-day percentage change needs a positive {target}, "
            f"but it is <= 0 on {len(bad)} dates ({shown}); set features.returns: false"
        )
    spec = FeatureSpec(target, lags, tuple(rolling_windows), returns)
    compute = {
        _LEVEL: lambda size: series,
        _LAG: series.shift,
        _MEAN: lambda size: series.rolling(size).mean(),
        _STD: lambda size: series.rolling(size).std(),
        _RETURN: lambda size: series.pct_change(fill_method=None),
    }
    table = pd.DataFrame({name: compute[kind](size) for name, (kind, size) in spec.kinds().items()})
    skip = spec.warmup_rows
    if len(table) <= skip:
        raise SeqcastError(
            f"the series has {len(table)} rows, fewer than the {skip + 1} that features.lags / "
            "features.rolling_windows need for a single row"
        )
    table = table.iloc[skip:]
    if table.isna().any().any():
        bad = table.index[table.isna().any(axis=1)][:5].strftime("%Y-%m-%d").tolist()
        raise SeqcastError(f"missing values in the feature table at {bad}; check the raw prices")
    return table


DEFAULT_TARGET = "close"  # data.target: the column of data.ticker to forecast


class FeatureParams(Section):
    lags: Annotated[int, Field(ge=0)] = 1
    rolling_windows: list[Annotated[int, Field(ge=2)]] = Field(default_factory=list)
    returns: bool = True
    # more inputs, each "TICKER.column", e.g. MSFT.close
    extra_columns: list[str] = Field(default_factory=list)
    join: Literal["exact", "inner"] = "exact"  # extra inputs missing on a target date: error / drop

    @property
    def extra_inputs(self) -> list[tuple[str, str]]:
        """(ticker, column) of each extra input column."""
        return [split_extra_column(name) for name in self.extra_columns]

    def spec(self, target: str) -> FeatureSpec:
        """The features of the `target` column that these params ask for."""
        return FeatureSpec(target, self.lags, tuple(self.rolling_windows), self.returns)


EXTRA_COLUMN = re.compile(r"^(?P<ticker>.+)\.(?P<column>[a-z][a-z0-9_]*)$")


def split_extra_column(name: str) -> tuple[str, str]:
    match = EXTRA_COLUMN.match(name)
    if match is None:
        raise ValueError(
            f"features.extra_columns contains {name!r}: write TICKER.column, e.g. MSFT.close"
        )
    return match["ticker"], match["column"]
