"""Baselines that every network must beat: the naive last value and a ridge regression."""

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import Ridge

from seqcast.models.base import Forecaster, History
from seqcast.windows import Windows


def _mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean((y_true - y_pred) ** 2))


class NaiveForecaster(Forecaster):
    """Predicts the last observed value of the target in each window."""

    kind = "naive"

    def __init__(self, target_index: int | None = None) -> None:
        self.target_index = target_index

    def fit(self, train: Windows, val: Windows) -> History:
        self.target_index = train.target_index
        return History([_mse(train.y, self.predict(train.x))], [_mse(val.y, self.predict(val.x))])

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.target_index is None:
            raise RuntimeError("NaiveForecaster is not fitted; call fit first")
        return x[:, -1, self.target_index]

    def config(self) -> dict[str, Any]:
        return {"target_index": self.target_index}

    def _save_state(self, directory: Path) -> None:
        """The naive forecast learns nothing beyond its config."""

    @classmethod
    def _load(cls, config: dict[str, Any], directory: Path) -> "NaiveForecaster":
        return cls(target_index=config["target_index"])


class LinearForecaster(Forecaster):
    """Ridge regression of the target on the flattened window (every lag of every feature)."""

    kind = "linear"
    STATE_FILE = "coefficients.json"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.coef_: np.ndarray | None = None  # (length * n_features,)
        self.intercept_: float = 0.0

    def fit(self, train: Windows, val: Windows) -> History:
        ridge = Ridge(alpha=self.alpha).fit(train.x.reshape(len(train), -1), train.y)
        self.coef_, self.intercept_ = ridge.coef_, float(ridge.intercept_)
        return History([_mse(train.y, self.predict(train.x))], [_mse(val.y, self.predict(val.x))])

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("LinearForecaster is not fitted; call fit first")
        return x.reshape(len(x), -1) @ self.coef_ + self.intercept_

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef_, "intercept": np.array(self.intercept_)}

    def config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def _save_state(self, directory: Path) -> None:
        state = {"coef": self.coef_.tolist(), "intercept": self.intercept_}
        (directory / self.STATE_FILE).write_text(json.dumps(state) + "\n")

    @classmethod
    def _load(cls, config: dict[str, Any], directory: Path) -> "LinearForecaster":
        model = cls(alpha=config["alpha"])
        state = json.loads((directory / cls.STATE_FILE).read_text())
        model.coef_ = np.asarray(state["coef"], dtype="float64")
        model.intercept_ = float(state["intercept"])
        return model
