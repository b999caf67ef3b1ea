"""The comparison of every enabled model on the same test targets: what the compare stage
computes (leaderboard, significance by step, RMSE by step, noise floor note, walk-forward
and seed summaries) as one result object, and its publication under reports/.

seqcast.reporting.markdown renders the markdown from it; the metric gate reads the files it writes.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqcast import artifacts, atomic
from seqcast.data.sources.synthetic import floor_at, oracle_forecast
from seqcast.jobs.run_params import logged_params
from seqcast.ops import tracking
from seqcast.params import Params
from seqcast.reporting import figures as plots
from seqcast.reporting import markdown as report
from seqcast.reporting import plot_data
from seqcast.reporting.html import render_html
from seqcast.scoring.evaluation import mean_and_spread
from seqcast.scoring.significance import DieboldMariano, against_naive_by_step

Scores = dict[str, dict[str, float]]  # {model: {metric: value}}
# The forecast stage's figure, from the report (reports/comparison.md)
FORECAST_FIGURE = f"forecast/{artifacts.FORECAST_FIGURE}"


@dataclass(frozen=True)
class Inputs:
    """Where the compare stage reads: the stage outputs it compares."""

    evaluations: Path  # reports/models: evaluate@model's directories
    models: Path  # data/models: train@model's directories
    backtest: Path  # data/backtest/<origin>/<model>
    forecast: Path  # reports/forecast: the forecast stage's forecast past the last date
    split: Path  # the unscaled split table
    ranges: Path  # split date ranges (JSON)
    source: Path  # provenance of the raw data (JSON)
    sweep: Path  # reports/sweep.json: the sweep stage's best configs


@dataclass(frozen=True)
class Comparison:
    metrics: Scores  # each model's first-step metrics: reports/metrics.json
    per_step: dict[str, Scores]  # {model: {step: metrics}}
    first_step: dict[str, pd.DataFrame]  # each model's first-step test predictions
    tests: dict[str, dict[int, DieboldMariano]]  # DM against naive, by model and step
    rmse_by_step: pd.DataFrame  # rows: models, columns: steps
    p_by_step: pd.DataFrame  # p of "better than naive", rows: models, columns: steps
    histories: dict[str, dict]  # training curves of the networks
    backtest_folds: dict[str, Scores]  # {model: {origin date: metrics}}
    backtest: dict[str, dict]  # {model: {folds, mean, std}}: reports/backtest.json
    backtest_settings: str
    seeds: dict[str, dict]  # {model: {seeds, mean, std}}: reports/seeds.json
    context: dict[str, Any]  # what the report says about the data and the splits
    prices: pd.Series  # the target series, for the forecast figure's history
    intervals: dict[str, dict]  # {model: intervals.json}: calibration and test coverage
    backtest_intervals: dict[str, dict[str, dict]]  # {model: {origin date: intervals.json}}
    forecast: pd.DataFrame  # the forecast stage's: date -> step, forecast, bounds
    forecast_summary: dict[str, Any]  # its forecast.json
    show_seeds: list[int] = field(default_factory=list)  # seeds the report lists, if several
    sweep: dict[str, Any] = field(default_factory=dict)  # reports/sweep.json
    # {model: its params block, flattened}: what the pipeline's MLflow run logs of it
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def leaderboard(self) -> dict[str, dict[str, float]]:
        """The metrics beside the first step's DM test against naive."""
        first = min(next(iter(self.tests.values())))
        return {
            n: {
                **m,
                "dm_statistic": self.tests[n][first].statistic,
                "dm_p_better": self.tests[n][first].p_better,
            }
            for n, m in self.metrics.items()
        }

    @property
    def interval_summary(self) -> dict[str, dict]:
        """reports/intervals.json: coverage beside nominal, on the test split and per fold."""
        return {
            n: {
                "test": report["test"],
                "folds": {
                    day: fold["test"] for day, fold in self.backtest_intervals.get(n, {}).items()
                },
            }
            for n, report in self.intervals.items()
        }

    @property
    def significance(self) -> dict[str, dict[str, dict]]:
        """reports/significance.json: every model but naive, by step."""
        return {
            n: {str(k): t.to_dict() for k, t in tests.items()}
            for n, tests in self.tests.items()
            if n != "naive"
        }


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _dated_folds(params: Params, folds: Path) -> dict[str, Any]:
    """Each fold's directory name by the date it resolved to (fold.json), in time order."""
    b = params.backtest
    dated = {artifacts.read_fold(folds / str(o) / b.models[0])["origin"]: o for o in b.origins}
    return {day: dated[day] for day in sorted(dated)}


def _backtest(
    params: Params, folds: Path, dated: dict[str, Any]
) -> tuple[dict[str, Scores], dict[str, dict], str]:
    """Each fold's metrics by model and date (`dated`: from _dated_folds), their summary,
    and the settings in words."""
    b = params.backtest
    if not dated:
        return {}, {}, "No walk-forward backtest: `backtest.origins` is empty."
    per_fold = {
        model: {
            day: artifacts.read_metrics(folds / str(dated[day]) / model) for day in sorted(dated)
        }
        for model in b.models
    }
    summary = {m: {"folds": f, **mean_and_spread(f)} for m, f in per_fold.items()}
    window = "all days before" if b.scheme == "expanding" else f"the {b.train_days} days before"
    settings = (
        f"{len(dated)} folds ({b.scheme} window): each retrains every model from scratch "
        f"on {window} its {b.val_days} validation days, which end on the origin, with a "
        f"scaler fit on its own training days only, and is scored on the next {b.test_days} "
        "trading days (step 1), the naive forecast included."
    )
    return per_fold, summary, settings


def _context(params: Params, table: pd.DataFrame, ranges: dict, actual: pd.Series) -> dict:
    target = params.data.target
    return {
        "ticker": params.data.ticker,
        "target": target,
        "horizon": params.window.horizon,
        "n_targets": len(actual),
        "experiment": params.tracking.experiment,
        # Only a model of the level is bound to the training range; changes are not.
        "range_note": report.range_note(table.loc[table["split"] == "train", target], actual)
        if params.target.transform == "level"
        else "",
        **{f"{split}_{edge}": ranges[split][edge] for split in ranges for edge in ("start", "end")},
    }


def _noise_floor_note(
    source: dict, params: Params, table: pd.DataFrame, first: pd.DataFrame, metrics: Scores
) -> str:
    """The synthetic source's noise floor against the best model, or "" for real data."""
    if source["noise_floor"] is None:
        return ""
    actual = first["actual"]
    oracle = oracle_forecast(source["kind"], source["seed"], first["origin_date"], actual.index)
    # The unrounded targets: predictions.csv keeps six decimals, enough to blur a floor of 0.
    exact = table.loc[actual.index, params.data.target].to_numpy()
    return report.noise_floor_note(
        floor_at(source["noise_floor"], params.window.horizon),
        source["noise_floor"]["why"],
        params.data.ticker,
        params.window.horizon,
        float(np.sqrt(np.mean((exact - oracle) ** 2))),
        metrics,
    )


def compare(params: Params, inputs: Inputs) -> Comparison:
    """Every model of models.enabled, side by side, from the stage outputs in `inputs`."""
    names = params.models.enabled
    evaluations = {n: inputs.evaluations / n for n in names}
    metrics = {n: artifacts.read_metrics(d) for n, d in evaluations.items()}
    by_step = {n: artifacts.read_predictions(d) for n, d in evaluations.items()}
    # The leaderboard and its figure are about the first step, over every test origin.
    first_step = {n: p[p["step"] == p["step"].min()] for n, p in by_step.items()}
    per_step = {n: artifacts.read_per_step(d) for n, d in evaluations.items()}
    tests = {n: against_naive_by_step(p) for n, p in by_step.items()}
    rmse_by_step = pd.DataFrame.from_dict(
        {n: {int(k): v["rmse"] for k, v in per_step[n].items()} for n in names}, orient="index"
    )
    p_by_step = pd.DataFrame.from_dict(
        {n: {k: t.p_better for k, t in tests[n].items()} for n in names}, orient="index"
    )
    summaries = {n: artifacts.read_model_summary(inputs.evaluations / n) for n in names}
    networks = [n for n in names if summaries[n]["trained_by_epochs"]]
    histories = {n: artifacts.read_history(inputs.models / n) for n in networks}
    table = pd.read_parquet(inputs.split)
    first = first_step[names[0]]
    context = _context(params, table, _json(inputs.ranges), first["actual"])
    note = _noise_floor_note(_json(inputs.source), params, table, first, metrics)
    if note:
        context["noise_floor_note"] = note
    dated = _dated_folds(params, inputs.backtest)
    folds, backtest, settings = _backtest(params, inputs.backtest, dated)
    seed_runs = {n: artifacts.read_seed_metrics(d) for n, d in evaluations.items()}
    seeds = {n: {"seeds": runs, **mean_and_spread(runs)} for n, runs in seed_runs.items()}
    shown = params.seed_list() if params.seeds.count > 1 else []
    intervals = {n: artifacts.read_intervals(d) for n, d in evaluations.items()}
    fold_intervals = {
        m: {day: artifacts.read_intervals(inputs.backtest / str(o) / m) for day, o in dated.items()}
        for m in params.backtest.models
        if dated
    }
    return Comparison(
        metrics, per_step, first_step, tests, rmse_by_step, p_by_step, histories,
        folds, backtest, settings, seeds, context, table[params.data.target], intervals,
        fold_intervals, *artifacts.read_forecast(inputs.forecast), shown, _json(inputs.sweep),
        {n: s["params"] for n, s in summaries.items()},
    )  # fmt: skip


def _figures(result: Comparison, out: Path) -> dict[str, str]:
    """The report's figures into `out`: {title: file name}."""
    actual = result.first_step[next(iter(result.first_step))]["actual"]
    c = result.context
    plots.forecast_figure(
        plots.history_before(result.prices, actual.index[0]),
        actual,
        {n: p["predicted"] for n, p in result.first_step.items()},
        f"{c['ticker']} {c['target']}: test-split forecasts",
        out / artifacts.FORECASTS_FIGURE,
    )
    figures = {"Forecasts against actual prices": artifacts.FORECASTS_FIGURE}
    plots.per_step_figure(result.rmse_by_step, out / artifacts.PER_STEP_FIGURE)
    if result.histories:
        plots.loss_figure(result.histories, out / artifacts.LOSS_FIGURE)
        figures["Training curves"] = artifacts.LOSS_FIGURE
    return figures


def markdown(result: Comparison, figures: dict[str, str]) -> str:
    """The comparison report; `figures`: {title: path relative to the report}."""
    per_step_figure = f"{artifacts.FIGURES}/{artifacts.PER_STEP_FIGURE}"
    sections = [
        report.per_step_section(result.rmse_by_step, result.p_by_step)
        + f"\n![Error by forecast step]({per_step_figure})\n",
        report.backtest_section(result.backtest_folds, result.backtest, result.backtest_settings),
        report.sweep_section(result.sweep),
        report.intervals_section(result.intervals, result.backtest_intervals),
        report.forecast_section(
            result.forecast,
            result.forecast_summary,
            FORECAST_FIGURE,
            result.context["ticker"],
            result.metrics,
        ),
    ]
    if result.show_seeds:
        sections.append(report.seeds_section(result.seeds, result.show_seeds))
    return report.comparison_markdown(result.leaderboard, result.context, figures, sections)


def publish(result: Comparison, reports: Path) -> list[Path]:
    """Write the report, its HTML copy, figures and data files under `reports`; returns them."""
    with artifacts.output_dir(reports / artifacts.FIGURES) as tmp:
        figures = _figures(result, tmp)
    links = {title: f"{artifacts.FIGURES}/{name}" for title, name in figures.items()}
    text = markdown(result, links)
    c = result.context
    html = render_html(text, reports, f"seqcast: {c['ticker']} {c['target']} model comparison")
    files = artifacts.comparison_files(reports)
    atomic.write_text(files[artifacts.REPORT], text)
    atomic.write_text(files[artifacts.HTML], html)
    atomic.write_json(files[artifacts.METRICS], result.metrics)
    plot_data.write_plot_tables(reports / artifacts.PLOTS, result.rmse_by_step, result.histories)
    plot_data.write_predictions(files[artifacts.PREDICTIONS], result.first_step)
    atomic.write_json(files[artifacts.PER_STEP], result.per_step)
    atomic.write_json(files[artifacts.BACKTEST], result.backtest)
    atomic.write_json(files[artifacts.SEEDS], result.seeds)
    atomic.write_json(files[artifacts.INTERVALS], result.interval_summary)
    atomic.write_json(files[artifacts.SIGNIFICANCE], result.significance)
    return list(files.values())


def record(params: Params, result: Comparison, files: list[Path]) -> None:
    """The pipeline's MLflow run: the params (each model's block as its evaluation wrote
    it), the report `files` and the headline metrics; then it ends."""
    logged = logged_params(params, sections=result.model_params)
    tracking.finish_pipeline_run(params.tracking.experiment, logged, files, result.metrics)
