"""Forecasts past the last observed date: choose the model on validation, roll it forward.

The model is chosen on the validation split (never on the test split, which would make the
test score optimistic) unless params name one. Its forecast is recursive: each business
day's input window holds the days before it, predicted ones included, so errors compound
with the distance from the last observed price.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqcast import artifacts, plots
from seqcast.errors import SeqcastError
from seqcast.forecaster import future_business_days
from seqcast.metrics import rmse, rounded
from seqcast.models import Forecaster, load_model
from seqcast.multistep import recursive_forecast
from seqcast.preprocessing import Preprocessing
from seqcast.windows import Windows


def validation_rmse(
    model: Forecaster, val: Windows, table: pd.DataFrame, prep: Preprocessing
) -> float:
    """RMSE in price units of the model's next-day forecasts on the validation windows."""
    predicted = prep.predict_prices(model, val, table[prep.target])
    target_dates = val.target_dates if val.target_dates.ndim == 1 else val.target_dates[:, 0]
    predicted = predicted if predicted.ndim == 1 else predicted[:, 0]
    actual = table.loc[pd.DatetimeIndex(target_dates), prep.target].to_numpy()
    return rmse(actual, predicted)


def choose_model(choice: str, scores: dict[str, float]) -> str:
    """`choice` itself, or with "best" the lowest validation RMSE (ties: the first listed)."""
    if choice == "best":
        return min(scores, key=scores.__getitem__)
    if choice not in scores:
        raise SeqcastError(f"forecast.model = {choice!r}: choose 'best' or one of {list(scores)}")
    return choice


def forecast_beyond(
    model: Forecaster, table: pd.DataFrame, prep: Preprocessing, days: int
) -> pd.DataFrame:
    """A recursive forecast of `days` business days after the table's last date."""
    prices = table[prep.target].to_numpy(dtype="float64")
    context = prep.context
    if len(prices) < context:
        raise SeqcastError(f"the series has {len(prices)} days; a forecast needs {context}")
    predicted = recursive_forecast(model, prep, prices[None, -context:], days)[0]  # (1, context)
    return pd.DataFrame(
        {"step": np.arange(1, days + 1), "recursive_forecast": predicted},
        index=future_business_days(table.index[-1], days),
    )


@dataclass(frozen=True)
class Forecast:
    """The forecast stage's result: the dated forecast, and what made it."""

    frame: pd.DataFrame  # date -> step, recursive_forecast
    summary: dict[str, Any]  # forecast.json
    how: str  # how the model was chosen, in words
    observed: pd.Series  # the observed prices a figure shows before the forecast
    title: str  # the figure's

    def figure(self, path: Path) -> None:
        """The forecast after the last observed prices."""
        values = self.frame["recursive_forecast"]
        plots.future_forecast_figure(self.observed, values, self.summary["model"], self.title, path)


def forecast_future(
    models: dict[str, Forecaster],
    val: Windows,
    table: pd.DataFrame,
    prep: Preprocessing,
    choice: str,
    days: int,
    ticker: str,
) -> Forecast:
    """Choose among `models` (forecast.model: a name or "best" on validation) and forecast
    `days` business days past the table's last date."""
    scores = {name: validation_rmse(m, val, table, prep) for name, m in models.items()}
    name = choose_model(choice, scores)
    train_dates = table.index[table["split"] == "train"]
    summary = {
        "method": "recursive",
        "model": name,
        "chosen_by": "lowest validation RMSE" if choice == "best" else "params",
        "validation_rmse": rounded(scores),
        "last_observed_date": table.index[-1].strftime("%Y-%m-%d"),
        "last_observed_price": float(table[prep.target].iloc[-1]),
        "days": days,
        "trained_on": [d.strftime("%Y-%m-%d") for d in train_dates[[0, -1]]],
        "target_transform": prep.coder.transform,
    }
    how = "best on validation" if choice == "best" else "chosen in params"
    title = (
        f"{ticker} {prep.target}: recursive forecast of {days} business days after "
        f"{summary['last_observed_date']} by {name} ({how})"
    )
    frame = forecast_beyond(models[name], table, prep, days)
    observed = table[prep.target].iloc[-plots.HISTORY_DAYS :]
    return Forecast(frame, summary, how, observed, title)


def forecast_trained(
    models: Path, windows: Path, split: Path, names: list[str], choice: str, days: int, ticker: str
) -> Forecast:
    """`forecast_future` over the pipeline's outputs: the models `names` saved under
    `models` (train@model), the bundle and validation windows in `windows` and the split
    table; the forecast stage and `seqcast forecast` both call it."""
    trained = {name: load_model(models / name) for name in names}
    prep = artifacts.read_preprocessing(windows)
    val = artifacts.read_windows(windows, "val")
    return forecast_future(trained, val, pd.read_parquet(split), prep, choice, days, ticker)
