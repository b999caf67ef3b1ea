"""Walk-forward backtest: refit and score a model on one fold (seqcast.forecasting.folds cuts it).

Each fold fits its own scaler and target coder on its own training rows, trains the model
from scratch and scores it exactly as the main evaluation does, and calibrates its
prediction intervals on its own validation block; nothing learnt in one fold reaches
another.
"""

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from seqcast.errors import SeqcastError
from seqcast.forecasting.folds import backtest_fold, origin_date
from seqcast.forecasting.forecaster import PriceForecaster
from seqcast.forecasting.multistep import forecasts_by_step
from seqcast.forecasting.selection import validation_errors
from seqcast.models import Forecaster, History, build_model
from seqcast.params import Params
from seqcast.prep.preprocessing import Preprocessing, pipeline_preprocessing
from seqcast.prep.scaling import scale_split_table
from seqcast.prep.splitting import date_ranges
from seqcast.scoring.evaluation import score_by_step


@dataclass(frozen=True)
class FoldResult:
    predictions: pd.DataFrame  # one row per (origin, step), as forecasts_by_step gives
    metrics_by_step: dict[int, dict[str, float]]
    prep: Preprocessing  # the fold's own scaler and coder
    model: Forecaster
    history: History
    fold: dict[str, Any]  # fold.json: each block's rows and dates (and the origin, by backtest)
    intervals: dict[str, Any]  # intervals.json: calibrated on the fold's validation block
    validation_errors: np.ndarray  # forecast - actual, next-day, in prices: what "best" reads

    @property
    def metrics(self) -> dict[str, float]:
        """The headline: the first step's metrics."""
        return self.metrics_by_step[min(self.metrics_by_step)]


def run_fold(table: pd.DataFrame, model_name: str, params: Params) -> FoldResult:
    """Scale, window, train and score one model on one fold (a table from fold_table)."""
    target = params.data.target
    scaled, scaler = scale_split_table(table, params.scale.method)
    prep, windows = pipeline_preprocessing(scaled, table[target], scaler, *params.prep_sections())
    model = build_model(model_name, params.model_params(model_name), params.train_for(model_name))
    history = model.fit(windows["train"], windows["val"])
    predictions = forecasts_by_step(model, windows["test"], table, prep, params.multistep.steps)
    forecaster = PriceForecaster(model_name, prep, model).calibrated(
        table, params.forecast.days, params.forecast.intervals
    )
    blocks = date_ranges(table)
    scores = score_by_step(predictions, table, target)
    intervals = forecaster.interval_report(table)
    val_errors = validation_errors(model, windows["val"], table, prep)
    return FoldResult(predictions, scores, prep, model, history, blocks, intervals, val_errors)


def backtest(origin: str, model_name: str, features: pd.DataFrame, params: Params) -> FoldResult:
    """The fold of backtest.origins named `origin` (a number or date as written there)."""
    b = params.backtest
    origins = {str(o): o for o in b.origins}
    if origin not in origins or model_name not in b.models:
        raise SeqcastError(f"fold {origin} {model_name}: not in backtest.origins / .models")
    day = origin_date(origins[origin], features, params.split, b.test_days)
    result = run_fold(backtest_fold(features, day, b), model_name, params)
    described = {"origin": day.isoformat(), "fold": origin, "scheme": b.scheme, **result.fold}
    return replace(result, fold=described)
