"""The default pipeline's steps in memory, for tests of what comes after the window stage."""

import numpy as np
import pandas as pd

from seqcast.data.features import FeatureSpec, make_features
from seqcast.forecasting.multistep import forecasts_by_step
from seqcast.params import SplitParams
from seqcast.prep.preprocessing import Preprocessing, fit_preprocessing
from seqcast.prep.scaling import AffineScaler, MinMaxScaler
from seqcast.prep.splitting import split_table
from seqcast.prep.transforms import TargetCoder

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
        self.table = split_table(self.features, SplitParams(train=0.6, val=0.2))
        values = self.table.drop(columns="split")
        train = (self.table["split"] == "train").to_numpy()
        self.scaler = MinMaxScaler().fit(values[train].to_numpy())
        scaled = values.copy()
        scaled[:] = self.scaler.transform(values.to_numpy())
        scaled["split"] = self.table["split"]
        spec = FeatureSpec(
            "close", features["lags"], tuple(features["rolling_windows"]), features["returns"]
        )
        self.prep, windows = fit_preprocessing(
            scaled,
            self.table["close"],
            self.scaler,
            spec,
            length=length,
            horizon=1,
            outputs=steps,
            transform=transform,
        )
        self.coder = self.prep.coder
        self.train, self.val, self.test = (windows[s] for s in ("train", "val", "test"))

    def forecasts(self, model, steps):
        return forecasts_by_step(model, self.test, self.table, self.prep, steps)


def decoding(
    coder: TargetCoder, target: str = "close", scaler: AffineScaler | None = None
) -> Preprocessing:
    """A bundle that only decodes with `coder` (no derived features): for tests of scoring."""
    spec = FeatureSpec(target, 0, (), False)
    return Preprocessing(spec, (target,), scaler or MinMaxScaler(), coder, length=1, horizon=1)
