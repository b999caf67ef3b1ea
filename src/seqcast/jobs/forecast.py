"""Forecasts past the last observed date: choose the model on validation, roll it forward.

The model is chosen on the validation split (never on the test split, which would make the
test score optimistic) unless params name one, or a registered one (models:/...). Its
forecast is the PriceForecaster's: recursive, each business day's input window holding the
days before it, predicted ones included, so errors compound with the distance from the
last observed price, and so do the conformal intervals around it.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqcast import artifacts
from seqcast.errors import SeqcastError
from seqcast.forecasting.forecaster import PriceForecaster
from seqcast.forecasting.selection import (
    SELECTED_BY,
    choose_model,
    p_better_than_naive,
    root_mean_square,
    validation_errors,
)
from seqcast.params import REGISTRY_SCHEME
from seqcast.prep.windows import Windows
from seqcast.reporting import figures as plots
from seqcast.scoring.metrics import rounded


@dataclass(frozen=True)
class Forecast:
    """The forecast stage's result: the dated forecast, and what made it."""

    frame: pd.DataFrame  # date -> step, forecast, lower_80, upper_80, lower_95, upper_95
    summary: dict[str, Any]  # forecast.json
    how: str  # how the model was chosen, in words
    observed: pd.Series  # the observed prices a figure shows before the forecast
    title: str  # the figure's

    def describe(self) -> str:
        """One line: the model, how it was chosen, its validation scores, the days."""
        s, how = self.summary, self.how
        if s.get("validation_rmse"):
            scores = ", ".join(f"{n} {v:.4g}" for n, v in s["validation_rmse"].items())
            how += f"; validation RMSE {scores}"
        if s.get("validation_p_better_than_naive_holm"):
            p = s["validation_p_better_than_naive_holm"].items()
            how += "; p (better than naive, Holm) " + ", ".join(f"{n} {v:.2g}" for n, v in p if v)
        return f"{s['model']} ({how}): {s['days']} business days after {s['last_observed_date']}"

    def figure(self, path: Path) -> None:
        """The forecast and its bands after the last observed prices."""
        plots.future_forecast_figure(
            self.observed, self.frame, self.summary["model"], self.title, path
        )


def _described(forecaster: PriceForecaster, table: pd.DataFrame, days: int) -> dict[str, Any]:
    """What every forecast.json says of the data and the intervals."""
    target = forecaster.target
    intervals = forecaster.intervals
    return {
        "last_observed_date": table.index[-1].strftime("%Y-%m-%d"),
        "last_observed_price": float(table[target].iloc[-1]),
        "days": days,
        "target_transform": forecaster.prep.coder.transform,
        "intervals": None
        if intervals is None
        else {key: intervals.to_dict()[key] for key in ("levels", "method", "calibrated_on")},
    }


def model_outlook(
    forecaster: PriceForecaster, val: Windows, table: pd.DataFrame, days: int
) -> dict[str, Any]:
    """What the forecast stage needs of one model, worked out where the model is loaded
    (evaluate@model writes it, so that the forecast stage runs no model's code): its
    next-day errors on the validation windows, its forecast of `days` business days past
    the table's last date with its bands, and what forecast.json says of them."""
    errors = validation_errors(forecaster.model, val, table, forecaster.prep)
    frame = forecaster.predict(table[forecaster.target], days)
    return {
        "model": forecaster.name,
        "days": days,
        "target": forecaster.target,
        "validation_errors": [float(e) for e in errors],
        "described": _described(forecaster, table, days),
        "dates": [d.strftime("%Y-%m-%d") for d in frame.index],
        "columns": {column: frame[column].tolist() for column in frame.columns},
    }


def _outlook_frame(outlook: dict[str, Any]) -> pd.DataFrame:
    index = pd.DatetimeIndex(outlook["dates"], name="date")
    return pd.DataFrame(outlook["columns"], index=index)


def forecast_future(
    outlooks: dict[str, dict[str, Any]],
    table: pd.DataFrame,
    choice: str,
    days: int,
    ticker: str,
    significance: float | None = None,
) -> Forecast:
    """Choose among the models of `outlooks` (model_outlook; forecast.model: a name or
    "best" on validation, with forecast.significance) and forecast `days` business days
    past the table's last date, with their intervals. Without validation windows
    (split.val = 0) there is nothing to score, and params must name the model."""
    errors = {n: np.asarray(o["validation_errors"], dtype="float64") for n, o in outlooks.items()}
    if not all(len(e) for e in errors.values()):
        errors = {}
    scores = {name: root_mean_square(e) for name, e in errors.items()}
    p_better = p_better_than_naive(errors) if choice == "best" else {}
    name = choose_model(choice, scores or dict.fromkeys(outlooks, np.nan), p_better, significance)
    chosen = outlooks[name]
    train_dates = table.index[table["split"] == "train"]
    # How it was chosen, in forecast.json's words and in the stage's line.
    chosen_by, how, selection = "params", "chosen in params", {}
    if choice == "best":
        rule = significance if p_better else None  # the rule needs naive to test against
        chosen_by, how = SELECTED_BY, "best on validation"
        if rule is not None:
            chosen_by += f" of naive and the models that beat it there (DM p < {rule:g}, Holm)"
            how += f", Holm-adjusted DM p < {rule:g} against naive"
        selection = {"significance": rule}
    summary = {
        "method": "recursive",
        "model": name,
        "chosen_by": chosen_by,
        **selection,
        "validation_rmse": rounded(scores),
        "validation_p_better_than_naive_holm": {
            n: None if np.isnan(p) else float(f"{p:.6g}") for n, p in p_better.items()
        },
        **chosen["described"],
        "trained_on": [d.strftime("%Y-%m-%d") for d in train_dates[[0, -1]]],
    }
    frame = _outlook_frame(chosen)
    return _forecast(chosen["target"], frame, table, days, ticker, summary, how)


def _forecast(
    target: str,
    frame: pd.DataFrame,
    table: pd.DataFrame,
    days: int,
    ticker: str,
    summary: dict[str, Any],
    how: str,
) -> Forecast:
    title = (
        f"{ticker} {target}: recursive forecast of {days} business days after "
        f"{summary['last_observed_date']} by {summary['model']} ({how})"
    )
    observed = table[target].iloc[-plots.HISTORY_DAYS :]
    return Forecast(frame, summary, how, observed, title)


def forecast_registered(
    model_uri: str, store_uri: str, table: pd.DataFrame, days: int, ticker: str
) -> Forecast:
    """Forecast with a registered forecaster (models:/<name>@champion) from the table's
    prices: whatever the registry names now, so rerun after the alias moves."""
    from seqcast.ops.model_registry import load_forecaster

    forecaster, version = load_forecaster(model_uri, store_uri)
    summary = {
        "method": "recursive",
        "model": forecaster.name,
        "chosen_by": f"the registry: {model_uri} (version {version})",
        "registered_model": model_uri,
        "registered_version": version,
        **_described(forecaster, table, days),
    }
    frame = forecaster.predict(table[forecaster.target], days)
    how = f"{model_uri}, version {version}"
    return _forecast(forecaster.target, frame, table, days, ticker, summary, how)


def store_uri(choice: str) -> str | None:
    """The MLflow store that a registered forecast.model is read from; None for the
    pipeline's own models."""
    if not choice.startswith(REGISTRY_SCHEME):
        return None
    from seqcast.ops import lineage, tracking

    return tracking.tracking_uri(lineage.repository_root(Path.cwd()))


def forecast_trained(
    evaluations: Path,
    windows: Path | None,
    split: Path,
    names: list[str],
    choice: str,
    days: int,
    ticker: str,
    store_uri: str | None = None,
    significance: float | None = None,
) -> Forecast:
    """The forecast stage's (and `seqcast forecast`'s) forecast over the pipeline's outputs:
    the outlooks that evaluate@model wrote under `evaluations` and the split table; for
    other `days` than theirs (`seqcast forecast --days`), the calibrated forecasters saved
    beside them and the validation windows in `windows`. When `choice` is models:/..., the
    registered forecaster of the MLflow store at `store_uri`."""
    table = pd.read_parquet(split)
    if choice.startswith(REGISTRY_SCHEME):
        if store_uri is None:
            raise SeqcastError(f"forecast.model = {choice}: no MLflow store to read it from")
        return forecast_registered(choice, store_uri, table, days, ticker)
    outlooks = {name: artifacts.read_outlook(evaluations / name) for name in names}
    if any(outlook["days"] != days for outlook in outlooks.values()):
        if windows is None:
            raise SeqcastError(f"{days} days: the evaluations worked out other days")
        val = artifacts.read_windows(windows, "val")
        outlooks = {
            name: model_outlook(
                PriceForecaster.load(evaluations / name / artifacts.FORECASTER), val, table, days
            )
            for name in names
        }
    return forecast_future(outlooks, table, choice, days, ticker, significance)
