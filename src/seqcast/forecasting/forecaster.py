"""One fitted forecaster: dated prices in, dated price forecasts out.

`PriceForecaster` bundles what the stages hand each other as files: the preprocessing
(feature spec, the scaler fit on the training rows, the target coder, the window length)
and the trained model. `PriceForecaster.fit` runs the pipeline's own steps on a price
history: the features, a time split into training and validation rows, the scaler, the
windows and the model's fit. `predict` rebuilds the inputs from the last prices of any
history and forecasts `steps` business days past its last date, recursively, in prices.
With conformal intervals (`seqcast.forecasting.intervals`), calibrated on validation days the model
did not train on, each forecast day carries 80% and 95% bounds. It is saved as a
directory of JSON files and the model's own files; nothing is pickled.

    from seqcast.forecasting.forecaster import PriceForecaster

    forecaster = PriceForecaster.fit(history, "lstm")  # the pipeline's lstm and sections
    # or as a params file says: PriceForecaster.fit(history, "lstm", **params.fit_sections("lstm"))
    forecaster.predict(history, steps=20)  # date -> step, forecast, lower_80, ..., upper_95
    forecaster.save("my-forecaster")
    PriceForecaster.load("my-forecaster").predict(history, steps=20)
"""

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from seqcast import artifacts, atomic
from seqcast.config import PositiveInt, Section
from seqcast.data.features import DEFAULT_TARGET, FeatureParams
from seqcast.errors import SeqcastError
from seqcast.forecasting.intervals import (
    Intervals,
    StepErrors,
    block_forecasts,
    calibrate,
    coverage,
)
from seqcast.forecasting.multistep import recursive_forecast
from seqcast.models import Forecaster, build_model, load_model, model_class
from seqcast.models.train_config import TrainConfig, with_overrides
from seqcast.prep.preprocessing import MultistepParams, Preprocessing, pipeline_preprocessing
from seqcast.prep.scaling import ScaleParams, scale_split_table
from seqcast.prep.splitting import SplitParams
from seqcast.prep.transforms import TargetParams
from seqcast.prep.windows import WindowParams

FORMAT = 1
BUNDLE_FILE = "forecaster.json"
MODEL_DIR = "model"
FIT_SPLITS = ("train", "val")  # a fit on a whole history keeps no test rows back


def future_business_days(last: pd.Timestamp, days: int) -> pd.DatetimeIndex:
    """The `days` business days (Monday to Friday) after `last`; exchange holidays included."""
    return pd.bdate_range(last + pd.offsets.BDay(1), periods=days, name="date")


def price_series(history: pd.DataFrame | pd.Series, target: str) -> pd.Series:
    """The history's `target` prices by date: a date-indexed frame or series, or a frame
    with a `date` column. Dates must be unique and increasing, prices finite."""
    if isinstance(history, pd.DataFrame):
        frame = history.set_index("date") if "date" in history.columns else history
        if target not in frame.columns:
            columns = ", ".join(map(str, frame.columns))
            raise SeqcastError(f"the history has no {target!r} column (it has {columns})")
        series = frame[target]
    else:
        series = history
    try:
        index = pd.DatetimeIndex(series.index)
    except (TypeError, ValueError):
        raise SeqcastError(
            "the history's dates are not dates: give a date index or column"
        ) from None
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise SeqcastError("the history's dates must be unique and increasing")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
    if not np.isfinite(values).all():
        bad = index[~np.isfinite(values)]
        raise SeqcastError(f"the history's {target} is missing or not a number on {len(bad)} dates")
    return pd.Series(values, index=index.rename("date"), name=target)


def fit_labels(n_rows: int, train: float, val: float) -> np.ndarray:
    """Training rows, then validation rows, in split.train : split.val proportions."""
    n_val = round(n_rows * val / (train + val))
    if n_val < 1 or n_rows - n_val < 1:
        raise SeqcastError(
            f"{n_rows} rows of features cannot be split into training and validation"
        )
    return np.array(["train"] * (n_rows - n_val) + ["val"] * n_val, dtype=object)


@dataclass(frozen=True)
class PriceForecaster:
    name: str  # the model's registry name
    prep: Preprocessing
    model: Forecaster
    intervals: Intervals | None = None  # None: point forecasts only

    @property
    def target(self) -> str:
        return self.prep.target

    @property
    def min_history(self) -> int:
        """Prices a forecast needs before its origin: the window and its features' warm-up."""
        return self.prep.context

    @classmethod
    def fit(
        cls,
        history: pd.DataFrame | pd.Series,
        name: str,
        *,
        target: str = DEFAULT_TARGET,
        features: FeatureParams | None = None,
        split: SplitParams | None = None,
        scale: ScaleParams | None = None,
        window: WindowParams | None = None,
        transform: TargetParams | None = None,
        multistep: MultistepParams | None = None,
        model: Section | None = None,
        train: TrainConfig | None = None,
        forecast: "ForecastParams | None" = None,
    ) -> "PriceForecaster":
        """Fit model `name` on the whole history's `target` prices: the last
        split.val / (split.train + split.val) of the feature rows validate (early stopping),
        the rest train. Each section left out is the pipeline's default (params.yaml shows
        the same values); `model` is the model's block models.<name>, whose train.*
        overrides apply over `train`. Extra input columns (features.extra_columns) are not
        supported. `Params.fit_sections(name)` gives every section of a params file."""
        f = features or FeatureParams()
        if f.extra_columns:
            raise SeqcastError(
                "features.extra_columns: a PriceForecaster reads one price series; "
                "leave the extra columns to the pipeline"
            )
        split, forecast = split or SplitParams(), forecast or ForecastParams()
        prices = price_series(history, target)
        spec = f.spec(target)
        features_table = spec.make(prices.rename_axis("date").reset_index())
        table = features_table.assign(split=fit_labels(len(features_table), split.train, split.val))
        scaled, scaler = scale_split_table(table, (scale or ScaleParams()).method)
        prep, windows = pipeline_preprocessing(
            scaled,
            table[target],
            scaler,
            spec,
            window or WindowParams(),
            transform or TargetParams(),
            multistep or MultistepParams(),
            FIT_SPLITS,
        )
        config = model if model is not None else model_class(name).Config()
        trained = train or TrainConfig()
        if model_class(name).trained_by_epochs:
            trained = with_overrides(trained, config.train)
        fitted = build_model(name, config, trained)
        fitted.fit(windows["train"], windows["val"])
        return cls(name, prep, fitted).calibrated(table, forecast.days, forecast.intervals)

    def block_errors(self, table: pd.DataFrame, block: str, steps: int) -> StepErrors:
        """Forecasts of 1..`steps` days from every origin of the `block` rows of a table
        with the target and a split column, beside the actual prices of that block."""
        prices = table[self.target].to_numpy(dtype="float64")
        return block_forecasts(
            self.model, self.prep, prices, table["split"].to_numpy(), block, steps
        )

    def calibrated(self, table: pd.DataFrame, steps: int, kind: str = "auto") -> "PriceForecaster":
        """This forecaster with conformal intervals for 1..`steps` days on `kind` errors
        (auto, relative or absolute: forecasting.intervals), calibrated on the validation rows
        of `table` (target and split columns), which it did not train on. Without a
        validation block (split.val = 0) there are no errors to calibrate on, and every
        width is infinite: no interval is made up."""
        dates = table.index[table["split"] == "val"]
        if len(dates):
            where = f"validation: {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}"
            errors = self.block_errors(table, "val", steps)
        else:
            where = "nothing: no validation block (split.val = 0)"
            errors = StepErrors(np.empty((0, steps)), np.empty((0, steps)))
            if kind == "auto":  # no forecasts to look at: decide on the prices alone
                kind = "relative" if (table[self.target] > 0).all() else "absolute"
        intervals = calibrate(errors, where, kind)
        return replace(self, intervals=intervals)

    def interval_report(self, table: pd.DataFrame) -> dict[str, Any]:
        """The calibrated intervals and how often the test rows of `table` fell inside them
        (intervals.json of an evaluation or a backtest fold)."""
        if self.intervals is None:
            raise SeqcastError(f"{self.name}: no intervals to report; calibrate first")
        errors = self.block_errors(table, "test", self.intervals.steps)
        return {"calibration": self.intervals.to_dict(), "test": coverage(errors, self.intervals)}

    def predict(self, history: pd.DataFrame | pd.Series, steps: int) -> pd.DataFrame:
        """Forecasts of the `steps` business days after the history's last date, in prices:
        date -> step, forecast, and with intervals lower_80, upper_80, lower_95, upper_95."""
        if steps < 1:
            raise SeqcastError(f"steps = {steps}: forecast at least one day")
        prices = price_series(history, self.target)
        if len(prices) < self.min_history:
            raise SeqcastError(
                f"the history has {len(prices)} days; {self.name} forecasts from the last "
                f"{self.min_history}"
            )
        last = prices.to_numpy()[None, -self.min_history :]
        predicted = recursive_forecast(self.model, self.prep, last, steps)[0]
        bounds = {} if self.intervals is None else self.intervals.bounds(predicted)
        return pd.DataFrame(
            {"step": np.arange(1, steps + 1), "forecast": predicted, **bounds},
            index=future_business_days(prices.index[-1], steps),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.name,
            "target": self.target,
            "min_history": self.min_history,
            "window": self.prep.length,
            "target_transform": self.prep.coder.transform,
            "intervals": None if self.intervals is None else self.intervals.to_dict(),
        }

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.prep.save(directory / artifacts.PREPROCESSING)
        self.model.save(directory / MODEL_DIR)
        atomic.write_json(directory / BUNDLE_FILE, self.describe())

    @classmethod
    def load(cls, directory: str | Path) -> "PriceForecaster":
        directory = Path(directory)
        try:
            bundle = json.loads((directory / BUNDLE_FILE).read_text())
        except FileNotFoundError:
            raise SeqcastError(f"{directory}: not a saved forecaster (no {BUNDLE_FILE})") from None
        except json.JSONDecodeError as exc:
            raise SeqcastError(f"{directory / BUNDLE_FILE}: not JSON ({exc})") from None
        if bundle.get("format") != FORMAT:
            found = bundle.get("format")
            raise SeqcastError(
                f"{directory / BUNDLE_FILE}: format {found!r}; this seqcast reads {FORMAT}"
            )
        prep = Preprocessing.load(directory / artifacts.PREPROCESSING)
        intervals = bundle.get("intervals")
        return cls(
            str(bundle["model"]),
            prep,
            load_model(directory / MODEL_DIR),
            None if intervals is None else Intervals.from_dict(intervals),
        )


REGISTRY_SCHEME = "models:/"


class ForecastParams(Section):
    model: str = "best"  # best, a model of models.enabled, or models:/<name>@<alias>
    days: PositiveInt = 20
    intervals: Literal["auto", "relative", "absolute"] = "auto"
    # best: choose among naive and the models that beat it on validation with a one-sided
    # Diebold-Mariano p below this, Holm-adjusted across the models; null: the lowest
    # validation RMSE, however slight
    significance: Annotated[float, Field(gt=0, lt=1)] | None = 0.05
