"""The default pipeline's steps in memory, for tests of what comes after the window stage."""

import numpy as np
import pandas as pd

from seqcast.features import make_features
from seqcast.multistep import forecasts_by_step
from seqcast.scaling import MinMaxScaler
from seqcast.splitting import split_table
from seqcast.transforms import encode_windows, fit_coder, window_prices
from seqcast.windows import make_windows

LENGTH = 6
OMEGA = 0.5  # radians per day: an irrational period, so no two windows repeat


def prices_frame(close: np.ndarray) -> pd.DataFrame:
    dates = pd.bdate_range("2021-01-04", periods=len(close))
    return pd.DataFrame({"date": dates, "close": close})


def sine(n: int) -> np.ndarray:
    """10 + sin(OMEGA t): every value is an affine function of the two before it,
    p_t = 2 cos(OMEGA) p_(t-1) - p_(t-2) + 10 (2 - 2 cos(OMEGA))."""
    return 10 + np.sin(OMEGA * np.arange(n))


FEATURES = {"lags": 3, "rolling_windows": [4], "returns": True}


class Pipeline:
    """The default pipeline's steps in memory: features, split, scale, windows, coder."""

    def __init__(self, close, transform="level", steps=1, features=FEATURES, length=LENGTH):
        self.features = make_features(prices_frame(close), "close", **features)
        self.table = split_table(self.features, 0.6, 0.2)
        values = self.table.drop(columns="split")
        train = (self.table["split"] == "train").to_numpy()
        self.scaler = MinMaxScaler().fit(values[train].to_numpy())
        scaled = values.copy()
        scaled[:] = self.scaler.transform(values.to_numpy())
        scaled["split"] = self.table["split"]
        levels = self.table["close"]
        fit_windows = make_windows(scaled, "close", length, 1, steps)
        self.test = make_windows(scaled, "close", length, 1)["test"]
        self.coder = fit_coder(
            transform, self.scaler, 0, *window_prices(fit_windows["train"], levels)
        )
        self.train, self.val = (
            encode_windows(fit_windows[split], self.coder, levels) for split in ("train", "val")
        )
        self.test = encode_windows(self.test, self.coder, levels)

    def forecasts(self, model, steps):
        return forecasts_by_step(
            model,
            self.test,
            self.table,
            coder=self.coder,
            scaler=self.scaler,
            target="close",
            horizon=1,
            steps=steps,
        )
