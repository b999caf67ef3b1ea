"""The preprocessing bundle: everything between a price table and a model's inputs and back.

A `Preprocessing` holds the feature spec and the input columns in their order, the scaler
fitted on the training rows, the target coder learnt from the training windows, the window
length and the horizon. It makes the windows of a split table, rebuilds a window from a
price history (recursive forecasts), and decodes a model's outputs into prices: the one
decode path of evaluation, multi-step forecasts, the forecast stage and the backtest. It is
saved as one JSON file (plain numbers, never pickle), written by the window stage.

A forecaster (prices in, prices out) is this bundle plus a fitted model.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from seqcast import atomic
from seqcast.config import PositiveInt, Section
from seqcast.data.features import FeatureSpec
from seqcast.errors import SeqcastError
from seqcast.prep.scaling import AffineScaler, scaler_from_dict
from seqcast.prep.splitting import SPLITS
from seqcast.prep.transforms import (
    TargetCoder,
    TargetParams,
    encode_windows,
    fit_coder,
    window_prices,
)
from seqcast.prep.windows import WindowParams, Windows, make_windows


class Predicts(Protocol):
    def predict(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Preprocessing:
    features: FeatureSpec
    columns: tuple[str, ...]  # the model's input columns, in order (the scaler's too)
    scaler: AffineScaler  # fit on the training rows only
    coder: TargetCoder  # learnt from the training windows only
    length: int  # window.length
    horizon: int  # window.horizon
    outputs: int = 1  # targets per train / val window: multistep.steps under direct

    @property
    def target(self) -> str:
        return self.features.target

    @property
    def context(self) -> int:
        """Prices up to an origin that rebuilding its window reads."""
        return self.length + self.features.history_needed(list(self.columns))

    def windows(self, scaled: pd.DataFrame, levels: pd.Series) -> dict[str, Windows]:
        """Train / val / test windows of a scaled split table, targets encoded by the coder.

        `levels`: the unscaled target series by date. Train and val windows carry
        `outputs` targets each; test windows one per test origin (the multi-step evaluation
        reads every step's target from the price table).
        """
        windows = _unencoded(scaled, self.target, self.length, self.horizon, self.outputs)
        return {split: encode_windows(w, self.coder, levels) for split, w in windows.items()}

    def decode(self, y: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """A model's outputs (n,) or (n, k) and the origins' prices (n,) -> predicted prices."""
        return self.coder.decode(y, origin)

    def predict_prices(self, model: Predicts, windows: Windows, levels: pd.Series) -> np.ndarray:
        """The model's forecasts of the windows, in prices; `levels` gives the origins'."""
        origin = levels.loc[pd.DatetimeIndex(windows.origin_dates)].to_numpy(dtype="float64")
        return self.decode(model.predict(windows.x), origin)

    def rebuild_inputs(self, history: np.ndarray) -> np.ndarray:
        """Scaled input windows (n, length, features) ending at the end of each price
        history (n, m), rebuilt from the prices alone."""
        raw = self.features.rebuild(history, list(self.columns), self.length)
        n = len(raw)
        return self.scaler.transform(raw.reshape(n * self.length, -1)).reshape(raw.shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": self.features.to_dict(),
            "columns": list(self.columns),
            "scaler": self.scaler.to_dict(),
            "target": self.coder.to_dict(),
            "length": self.length,
            "horizon": self.horizon,
            "outputs": self.outputs,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> "Preprocessing":
        return cls(
            features=FeatureSpec.from_dict(state["features"]),
            columns=tuple(str(c) for c in state["columns"]),
            scaler=scaler_from_dict(state["scaler"]),
            coder=TargetCoder.from_dict(state["target"]),
            length=int(state["length"]),
            horizon=int(state["horizon"]),
            outputs=int(state["outputs"]),
        )

    def save(self, path: str | Path) -> None:
        atomic.write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "Preprocessing":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise SeqcastError(f"{path}: not found; run the window stage first") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise SeqcastError(
                f"{path}: not a preprocessing bundle ({type(exc).__name__}: {exc}); "
                "rerun the window stage"
            ) from None


def _unencoded(
    scaled: pd.DataFrame,
    target: str,
    length: int,
    horizon: int,
    outputs: int,
    splits: tuple[str, ...] = SPLITS,
) -> dict[str, Windows]:
    windows = make_windows(scaled, target, length, horizon, splits=splits)
    if outputs > 1:
        learnt = tuple(split for split in splits if split != "test")
        per_step = make_windows(scaled, target, length, horizon, outputs, splits=learnt)
        windows.update(per_step)
    return windows


def fit_preprocessing(
    scaled: pd.DataFrame,
    levels: pd.Series,
    scaler: AffineScaler,
    features: FeatureSpec,
    *,
    length: int,
    horizon: int,
    outputs: int,
    transform: str,
    splits: tuple[str, ...] = SPLITS,
) -> tuple[Preprocessing, dict[str, Windows]]:
    """The bundle of a scaled split table and its fitted scaler, and its windows of
    `splits` (a forecaster fit on a whole history has no test split).

    The coder learns `transform` from the training windows' prices only.
    """
    columns = tuple(str(c) for c in scaled.columns if c != "split")
    windows = _unencoded(scaled, features.target, length, horizon, outputs, splits)
    train = windows["train"]
    coder = fit_coder(transform, scaler, train.target_index, *window_prices(train, levels))
    prep = Preprocessing(features, columns, scaler, coder, length, horizon, outputs)
    return prep, {split: encode_windows(w, coder, levels) for split, w in windows.items()}


def pipeline_preprocessing(
    scaled: pd.DataFrame,
    levels: pd.Series,
    scaler: AffineScaler,
    features: FeatureSpec,
    window: WindowParams,
    target: TargetParams,
    multistep: "MultistepParams",
    splits: tuple[str, ...] = SPLITS,
) -> tuple[Preprocessing, dict[str, Windows]]:
    """`fit_preprocessing` as the pipeline's sections ask (features.*, window.*, target.*,
    multistep.*): the window stage, each backtest fold, the check stage and a
    PriceForecaster fit it so."""
    return fit_preprocessing(
        scaled,
        levels,
        scaler,
        features,
        length=window.length,
        horizon=window.horizon,
        outputs=multistep.steps if multistep.strategy == "direct" else 1,
        transform=target.transform,
        splits=splits,
    )


class MultistepParams(Section):
    steps: PositiveInt = 5
    strategy: Literal["recursive", "direct"] = "recursive"
