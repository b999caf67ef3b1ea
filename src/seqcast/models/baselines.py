"""Baselines that every network must beat: the naive last value and a ridge regression."""

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from seqcast.config import Section
from seqcast.models.base import Forecaster, History
from seqcast.models.catalog import register
from seqcast.models.train_config import TrainConfig
from seqcast.prep.windows import Windows


class NaiveConfig(Section):
    """The naive forecast has no hyperparameters."""


class LinearConfig(Section):
    alpha: Annotated[float, Field(ge=0)] = 1.0  # ridge penalty


def _mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean((y_true - y_pred) ** 2))


def _history(model: Forecaster, train: Windows, val: Windows) -> History:
    """The one "epoch" of a closed-form fit; no validation loss without validation windows."""
    val_loss = [_mse(val.y, model.predict(val.x))] if len(val) else []
    return History([_mse(train.y, model.predict(train.x))], val_loss)


@register
class NaiveForecaster(Forecaster):
    """Predicts no change: the last observed value of the target in each window.

    Under a change transform (target.transform = difference / log_return) "no change" is
    a scaled target of 0; with multi-step targets it is repeated for every step.
    """

    name = "naive"
    Config = NaiveConfig
    multi_output = True

    def __init__(
        self, target_index: int | None = None, target_transform: str = "level", steps: int = 0
    ) -> None:
        self.target_index = target_index
        self.target_transform = target_transform
        self.steps = steps  # 0: one target per window, y (n,); else y (n, steps)

    @classmethod
    def build(cls, config: NaiveConfig, train: TrainConfig) -> "NaiveForecaster":
        return cls()

    def fit(self, train: Windows, val: Windows) -> History:
        self.target_index = train.target_index
        self.target_transform = train.target_transform
        self.steps = train.y.shape[1] if train.y.ndim == 2 else 0
        return _history(self, train, val)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.target_index is None:
            raise RuntimeError("NaiveForecaster is not fitted; call fit first")
        level = self.target_transform == "level"
        last = x[:, -1, self.target_index] if level else np.zeros(len(x))
        return np.repeat(last[:, None], self.steps, axis=1) if self.steps else last

    def config(self) -> dict[str, Any]:
        return {
            "target_index": self.target_index,
            "target_transform": self.target_transform,
            "steps": self.steps,
        }

    def _save_state(self, directory: Path) -> None:
        """The naive forecast learns nothing beyond its config."""

    @classmethod
    def _load(cls, config: dict[str, Any], directory: Path) -> "NaiveForecaster":
        return cls(
            target_index=config["target_index"],
            target_transform=config.get("target_transform", "level"),
            steps=config.get("steps", 0),
        )


@register
class LinearForecaster(Forecaster):
    """Ridge regression of the target on the flattened window (every lag of every feature).

    Multi-step targets y (n, steps) fit one ridge per step, in one multi-output regression.
    """

    name = "linear"
    Config = LinearConfig
    multi_output = True
    STATE_FILE = "coefficients.json"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha
        self.coef_: np.ndarray | None = None  # (length * n_features,) or (steps, ...)
        self.intercept_: float | np.ndarray = 0.0  # float, or (steps,)

    @classmethod
    def build(cls, config: LinearConfig, train: TrainConfig) -> "LinearForecaster":
        return cls(alpha=config.alpha)

    def fit(self, train: Windows, val: Windows) -> History:
        from sklearn.linear_model import Ridge  # here: reading params.yaml need not load it

        ridge = Ridge(alpha=self.alpha).fit(train.x.reshape(len(train), -1), train.y)
        self.coef_ = ridge.coef_
        self.intercept_ = ridge.intercept_ if train.y.ndim == 2 else float(ridge.intercept_)
        return _history(self, train, val)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("LinearForecaster is not fitted; call fit first")
        return x.reshape(len(x), -1) @ self.coef_.T + self.intercept_

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef_, "intercept": np.array(self.intercept_)}

    def config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def _save_state(self, directory: Path) -> None:
        intercept = np.asarray(self.intercept_).tolist()
        state = {"coef": self.coef_.tolist(), "intercept": intercept}
        (directory / self.STATE_FILE).write_text(json.dumps(state) + "\n")

    @classmethod
    def _load(cls, config: dict[str, Any], directory: Path) -> "LinearForecaster":
        model = cls(alpha=config["alpha"])
        state = json.loads((directory / cls.STATE_FILE).read_text())
        model.coef_ = np.asarray(state["coef"], dtype="float64")
        intercept = state["intercept"]
        model.intercept_ = (
            np.asarray(intercept, dtype="float64") if isinstance(intercept, list) else intercept
        )
        return model
