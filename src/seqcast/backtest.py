"""Walk-forward backtest: refit and score a model on one fold (seqcast.folds cuts it).

Each fold fits its own scaler and target coder on its own training rows, trains the model
from scratch and scores it exactly as the main evaluation does; nothing learnt in one fold
reaches another.
"""

from dataclasses import dataclass

import pandas as pd

from seqcast.evaluation import score_by_step
from seqcast.models import Forecaster, History, build_model
from seqcast.multistep import forecasts_by_step
from seqcast.params import Params
from seqcast.scaling import AffineScaler, scale_split_table
from seqcast.transforms import pipeline_windows


@dataclass
class FoldResult:
    predictions: pd.DataFrame  # one row per (origin, step), as forecasts_by_step gives
    metrics_by_step: dict[int, dict[str, float]]
    scaler: AffineScaler
    model: Forecaster
    history: History


def run_fold(table: pd.DataFrame, model_name: str, params: Params) -> FoldResult:
    """Scale, window, train and score one model on one fold (a table from fold_table)."""
    target = params.data.target
    scaled, scaler = scale_split_table(table, params.scale.method)
    windows, coder = pipeline_windows(scaled, table[target], scaler, params)
    model = build_model(model_name, params.model_params(model_name), params.train_for(model_name))
    history = model.fit(windows["train"], windows["val"])
    predictions = forecasts_by_step(
        model,
        windows["test"],
        table,
        coder=coder,
        scaler=scaler,
        target=target,
        horizon=params.window.horizon,
        steps=params.multistep.steps,
    )
    return FoldResult(
        predictions, score_by_step(predictions, table, target), scaler, model, history
    )
