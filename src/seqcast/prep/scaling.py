"""Column-wise scalers with scikit-learn's fit / transform / inverse_transform contract.

Both are affine maps, x_scaled = (x - offset) / scale, so their learned state is two
vectors, saved as plain JSON (never pickle).
"""

from typing import Any, Literal, Self

import numpy as np
import pandas as pd

from seqcast.config import Section


class AffineScaler:
    method = "affine"

    def __init__(self) -> None:
        self.offset_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def _learn(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, values: np.ndarray) -> Self:
        values = np.asarray(values, dtype="float64")
        offset, scale = self._learn(values)
        # A constant column would divide by (nearly) zero; scale it by 1 as scikit-learn does.
        constant = scale < 10 * np.finfo("float64").eps * np.maximum(1.0, np.abs(offset))
        self.offset_, self.scale_ = offset, np.where(constant, 1.0, scale)
        return self

    def _check_fitted(self) -> None:
        if self.offset_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit first")

    def transform(self, values: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return (np.asarray(values, dtype="float64") - self.offset_) / self.scale_

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.asarray(values, dtype="float64") * self.scale_ + self.offset_

    def inverse_transform_column(self, values: np.ndarray, column: int) -> np.ndarray:
        """Undo the scaling of one column, e.g. predictions of the target."""
        self._check_fitted()
        return np.asarray(values, dtype="float64") * self.scale_[column] + self.offset_[column]

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "method": self.method,
            "offset": self.offset_.tolist(),
            "scale": self.scale_.tolist(),
        }


class MinMaxScaler(AffineScaler):
    """Maps each column's training range onto [0, 1]."""

    method = "minmax"

    def _learn(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low = values.min(axis=0)
        return low, values.max(axis=0) - low


class StandardScaler(AffineScaler):
    """Zero mean, unit variance (population standard deviation) on the training rows."""

    method = "standard"

    def _learn(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return values.mean(axis=0), values.std(axis=0)


SCALERS: dict[str, type[AffineScaler]] = {"minmax": MinMaxScaler, "standard": StandardScaler}


def make_scaler(method: str) -> AffineScaler:
    return SCALERS[method]()


def scaler_from_dict(state: dict[str, Any]) -> AffineScaler:
    scaler = make_scaler(state["method"])
    scaler.offset_ = np.asarray(state["offset"], dtype="float64")
    scaler.scale_ = np.asarray(state["scale"], dtype="float64")
    return scaler


def scale_split_table(table: pd.DataFrame, method: str) -> tuple[pd.DataFrame, AffineScaler]:
    """Fit a scaler on the rows labelled train only and apply it to every row.

    `table` is a date-indexed feature table with a `split` column; the result has the same
    shape, with the split column kept as it is.
    """
    features = table.drop(columns="split")
    scaler = make_scaler(method).fit(features[table["split"] == "train"].to_numpy())
    scaled = features.copy()
    scaled[:] = scaler.transform(features.to_numpy())
    scaled["split"] = table["split"]
    return scaled, scaler


class ScaleParams(Section):
    method: Literal["minmax", "standard"] = "minmax"
