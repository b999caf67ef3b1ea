"""evaluate@model's whole job: score a trained model on the test split, draw its figures,
write its inspection artifacts, calibrate its prediction intervals on the validation split
and measure their coverage on the test split, save the calibrated forecaster and record its
MLflow run."""

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seqcast import artifacts, atomic
from seqcast.forecasting.forecaster import PriceForecaster
from seqcast.jobs import run_params
from seqcast.jobs.forecast import model_outlook
from seqcast.models import inspection, load_model
from seqcast.ops import tracking
from seqcast.params import Params
from seqcast.reporting import figures as plots
from seqcast.scoring.evaluation import Evaluation, evaluate


@dataclass(frozen=True)
class ModelEvaluation:
    evaluation: Evaluation
    run_id: str  # the MLflow run


def evaluate_model(
    name: str, paths: dict[str, Path], table: pd.DataFrame, split: Path, params: Params, out: Path
) -> ModelEvaluation:
    """Evaluate the model saved in paths["model_dir"] on the windows in paths["windows"] into
    the directory `out`; `table` is the unscaled split table read from `split`; the MLflow
    run's dataset is paths["raw"], from where paths["source"] says (download's source.json);
    paths["evaluations"] holds every model's evaluation (reports/models), whose headline
    metrics complete the pipeline run's leaderboard."""
    model_dir, windows = paths["model_dir"], paths["windows"]
    model, test = load_model(model_dir), artifacts.read_windows(windows, "test")
    seeded = {seed: load_model(d) for seed, d in artifacts.seed_dirs(model_dir).items()}
    prep = artifacts.read_preprocessing(windows)
    result = evaluate(model, seeded, params.train.seed, test, table, prep, params.multistep.steps)
    history = artifacts.read_history(model_dir)
    artifacts.write_evaluation(out, result.predictions, result.by_step, result.seeds)
    first = result.first_step
    plots.forecast_figure(
        plots.history_before(table[prep.target], first.index[0]),
        first["actual"],
        {name: first["predicted"]},
        f"{params.data.ticker} {prep.target}: {name} on the test split",
        out / artifacts.FORECAST_FIGURE,
    )
    if model.trained_by_epochs:
        plots.loss_figure({name: history}, out / artifacts.LOSS_FIGURE)
    inspection.write_artifacts(name, model, test, out)
    forecaster = PriceForecaster(name, prep, model).calibrated(
        table, params.forecast.days, params.forecast.intervals
    )
    intervals = forecaster.interval_report(table)
    artifacts.write_intervals(out, intervals)
    forecaster.save(out / artifacts.FORECASTER)
    val = artifacts.read_windows(windows, "val")
    artifacts.write_outlook(out, model_outlook(forecaster, val, table, params.forecast.days))
    artifacts.write_model_summary(
        out, model.trained_by_epochs, run_params.own_section(params, name)
    )
    data, origin = params.data, json.loads(paths["source"].read_text())
    coverage = {
        f"test_coverage_{level}": intervals["test"][level]["coverage"]
        for level in intervals["calibration"]["half_widths"]
    }
    run_id = tracking.record_model_run(
        name=name,
        experiment=params.tracking.experiment,
        params=run_params.logged_params(params, name),
        dataset=tracking.raw_dataset(paths["raw"], origin, data.ticker, data.all_tickers),
        metrics={**result.metrics, **coverage},
        history=history,
        report_dir=out,
        model_dir=model_dir,
        forecaster=forecaster,
        prices=table[prep.target],
        inputs=[model_dir, windows, split, paths["raw"]],
        leaderboard=leaderboard(params.models.enabled, paths["evaluations"], {name: out}),
    )
    return ModelEvaluation(result, run_id)


def leaderboard(
    enabled: list[str], evaluations: Path, fresh: dict[str, Path]
) -> dict[str, dict[str, float]]:
    """Every enabled model's headline metrics as its evaluation wrote them: from `fresh`
    ({model: the folder being written}) or under `evaluations`; a model not evaluated yet
    is left out."""
    folders = {m: fresh.get(m, evaluations / m) for m in enabled}
    return {
        m: artifacts.read_metrics(folder)
        for m, folder in folders.items()
        if (folder / artifacts.METRICS).is_file()
    }


def record_run(name: str, run_id: str) -> None:
    """Name the MLflow run of the model's last evaluation, once its outputs are complete."""
    atomic.write_json(tracking.run_record(Path.cwd(), name), {"run_id": run_id})
