"""Every hand-off file between stages: its name, and how it is written and read.

No stage and no other module spells these names. Directories are written whole
(seqcast.atomic.atomic_dir: a new one replaces the old only once complete); the functions
here that take `out` write into such a directory.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from seqcast import atomic
from seqcast.prep.preprocessing import Preprocessing
from seqcast.prep.windows import Windows
from seqcast.scoring.metrics import rounded

# data/windows: the window stage's windows per split and the preprocessing bundle
PREPROCESSING = "preprocessing.json"
# data/models/<model>: the model itself, its training history, more seeds under seeds/<seed>
HISTORY = "history.json"
SEEDS_DIR = "seeds"
# reports/models/<model> (evaluate@model) and data/backtest/<origin>/<model> (backtest@)
METRICS = "metrics.json"  # the first step's metrics; reports/metrics.json: every model's
PER_STEP = "per_step.json"
PREDICTIONS = "predictions.csv"
SEEDS = "seeds.json"  # metrics per training seed; reports/seeds.json: their summary
FOLD = "fold.json"
INTERVALS = "intervals.json"  # conformal half-widths and their coverage on the scored block
# what an evaluation says of its model: trained by epochs?, its flattened params block
MODEL_SUMMARY = "model.json"
# its validation errors and forecast past the last date, for the forecast stage
OUTLOOK = "outlook.json"
FORECASTER = "forecaster"  # the calibrated PriceForecaster, as PriceForecaster.save writes it
SCALER = "scaler.json"
# reports/forecast: the forecast stage's
FORECAST = "forecast.csv"
FORECAST_SUMMARY = "forecast.json"
FORECAST_FIGURE = "forecast.png"
# reports/: the compare stage's outputs besides the three above
REPORT = "comparison.md"
HTML = "comparison.html"
SIGNIFICANCE = "significance.json"
BACKTEST = "backtest.json"
FIGURES = "figures"  # the report's: forecasts, error by step, training curves
FORECASTS_FIGURE = "forecasts.png"
PER_STEP_FIGURE = "per_step.png"
LOSS_FIGURE = "loss.png"
PLOTS = "plots"  # the tables of `dvc plots`


class Saves(Protocol):  # a model
    def save(self, directory: Path) -> None: ...


class Records(Protocol):  # a training history
    def to_dict(self) -> dict[str, Any]: ...


DATE_FORMAT = "%Y-%m-%d"
FLOAT_FORMAT = "%.6f"


@contextmanager
def output_dir(out: str | Path) -> Iterator[Path]:
    """A directory output, written whole: a new one replaces the old only once complete."""
    with atomic.atomic_dir(out) as tmp:
        yield Path(tmp)


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _by_step(metrics: dict[int, dict[str, float]]) -> dict[int, dict[str, float]]:
    return {step: rounded(values) for step, values in metrics.items()}


def write_windows(out: Path, windows: dict[str, Windows], prep: Preprocessing) -> None:
    for split, split_windows in windows.items():
        split_windows.save(out / f"{split}.npz")
    prep.save(out / PREPROCESSING)


def read_windows(directory: str | Path, split: str) -> Windows:
    return Windows.load(Path(directory) / f"{split}.npz")


def read_preprocessing(directory: str | Path) -> Preprocessing:
    return Preprocessing.load(Path(directory) / PREPROCESSING)


def write_history(directory: Path, history: Records) -> None:
    (directory / HISTORY).write_text(json.dumps(history.to_dict(), indent=2) + "\n")


def write_model_dir(out: Path, fitted: dict[int, tuple[Saves, Records]], first_seed: int) -> None:
    """The first seed's model and history in `out`, every other seed's in seeds/<seed>/."""
    for seed, (model, history) in fitted.items():
        directory = out if seed == first_seed else out / SEEDS_DIR / str(seed)
        model.save(directory)
        write_history(directory, history)


def read_history(model_dir: str | Path) -> dict[str, Any]:
    return _json(Path(model_dir) / HISTORY)


def seed_dirs(model_dir: str | Path) -> dict[str, Path]:
    """The extra seeds' model directories of a model, by seed, in seed order."""
    found = (Path(model_dir) / SEEDS_DIR).glob("*")
    return {d.name: d for d in sorted(found, key=lambda d: int(d.name))}


def write_predictions(path: Path, predictions: pd.DataFrame) -> None:
    predictions.to_csv(path, date_format=DATE_FORMAT, float_format=FLOAT_FORMAT)


def read_predictions(directory: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(directory) / PREDICTIONS, index_col="date", parse_dates=True)


def write_scores(
    out: Path, predictions: pd.DataFrame, by_step: dict[int, dict[str, float]]
) -> None:
    """A model's metrics (first step), metrics per step and predictions, in one directory."""
    atomic.write_json(out / METRICS, rounded(by_step[min(by_step)]))
    atomic.write_json(out / PER_STEP, _by_step(by_step))
    write_predictions(out / PREDICTIONS, predictions)


def write_seed_metrics(out: Path, seeds: dict[str, dict[str, float]]) -> None:
    atomic.write_json(out / SEEDS, {seed: rounded(m) for seed, m in seeds.items()})


def read_metrics(directory: str | Path) -> dict[str, float]:
    return _json(Path(directory) / METRICS)


def read_per_step(directory: str | Path) -> dict[str, dict[str, float]]:
    return _json(Path(directory) / PER_STEP)


def read_seed_metrics(directory: str | Path) -> dict[str, dict[str, float]]:
    return _json(Path(directory) / SEEDS)


def write_fold(
    out: Path,
    fold: dict[str, Any],
    predictions: pd.DataFrame,
    by_step: dict[int, dict[str, float]],
    prep: Preprocessing,
    history: Records,
) -> None:
    """One backtest fold: its scores, what it was (fold.json), its scaler and history."""
    write_scores(out, predictions, by_step)
    atomic.write_json(out / FOLD, fold)
    atomic.write_json(out / SCALER, prep.scaler.to_dict())
    write_history(out, history)


def read_fold(directory: str | Path) -> dict[str, Any]:
    return _json(Path(directory) / FOLD)


def write_intervals(out: Path, intervals: dict[str, Any]) -> None:
    atomic.write_json(out / INTERVALS, intervals)


def read_intervals(directory: str | Path) -> dict[str, Any]:
    return _json(Path(directory) / INTERVALS)


def write_evaluation(
    out: Path,
    predictions: pd.DataFrame,
    by_step: dict[int, dict[str, float]],
    seeds: dict[str, dict[str, float]],
) -> None:
    """evaluate@model's scores: metrics, per step, per seed, predictions."""
    write_scores(out, predictions, by_step)
    write_seed_metrics(out, seeds)


def write_model_summary(out: Path, trained_by_epochs: bool, params: dict[str, Any]) -> None:
    """Beside an evaluation: whether its model trains by epochs, and its params block as
    the pipeline's MLflow run logs it, so that compare needs no model's code or block."""
    summary = {"trained_by_epochs": trained_by_epochs, "params": params}
    atomic.write_json(out / MODEL_SUMMARY, summary)


def read_model_summary(directory: str | Path) -> dict[str, Any]:
    return _json(Path(directory) / MODEL_SUMMARY)


def write_outlook(out: Path, outlook: dict[str, Any]) -> None:
    """Beside an evaluation: seqcast.jobs.forecast.model_outlook, floats written exactly."""
    atomic.write_json(out / OUTLOOK, outlook)


def read_outlook(directory: str | Path) -> dict[str, Any]:
    return _json(Path(directory) / OUTLOOK)


def write_forecast(out: Path, frame: pd.DataFrame, summary: dict[str, Any]) -> None:
    write_predictions(out / FORECAST, frame)
    atomic.write_json(out / FORECAST_SUMMARY, summary)


def read_forecast(directory: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The forecast stage's forecast (date -> step, forecast, bounds) and its summary."""
    directory = Path(directory)
    frame = pd.read_csv(directory / FORECAST, index_col="date", parse_dates=True)
    return frame, _json(directory / FORECAST_SUMMARY)


def comparison_files(reports: Path) -> dict[str, Path]:
    """The compare stage's outputs under `reports`, by name, as its MLflow run logs them."""
    names = (
        REPORT, HTML, METRICS, PER_STEP, SIGNIFICANCE, BACKTEST, SEEDS, INTERVALS, PREDICTIONS,
        FIGURES,
    )  # fmt: skip
    return {name: reports / name for name in names}
