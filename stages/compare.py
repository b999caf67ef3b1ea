"""Stage compare: leaderboard, significance, figures and metrics across models.enabled.

Writes the markdown report and a self-contained HTML copy of it, metrics.json (step-1
metrics per model: the headline that DVC shows), per_step.json (metrics per model and
step), significance.json (Diebold-Mariano tests against the naive forecast per model and
step), predictions.csv (step-1 test predictions, for the gate and `dvc plots`) and the
tables of the other plots.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from seqcast import atomic, plot_data, plots, stage, tracking
from seqcast.evaluation import mean_and_spread
from seqcast.html_report import render_html
from seqcast.params import NETWORK_MODELS, load_params
from seqcast.report import (
    backtest_section,
    comparison_markdown,
    noise_floor_note,
    per_step_section,
    range_note,
    seeds_section,
)
from seqcast.significance import against_naive_by_step
from seqcast.sources.synthetic import floor_at, oracle_forecast

HISTORY_DAYS = 120  # pre-test history shown in the forecast figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluations", required=True, help="directory of evaluate@model outputs")
    parser.add_argument("--models", required=True, help="directory of train@model outputs")
    parser.add_argument("--ranges", required=True, help="split date ranges (JSON)")
    parser.add_argument("--split", required=True, help="unscaled table with split column")
    parser.add_argument("--report", required=True, help="comparison report (markdown)")
    parser.add_argument("--metrics", required=True, help="metrics of every model (JSON)")
    parser.add_argument("--html", required=True, help="self-contained HTML copy of the report")
    parser.add_argument("--per-step", required=True, help="metrics per model and step (JSON)")
    parser.add_argument("--significance", required=True, help="DM tests vs naive (JSON)")
    parser.add_argument("--backtest", required=True, help="directory of backtest@ outputs")
    parser.add_argument("--backtest-metrics", required=True, help="walk-forward summary (JSON)")
    parser.add_argument("--seeds", required=True, help="metrics over training seeds (JSON)")
    parser.add_argument("--figures", required=True, help="directory for the report's figures")
    parser.add_argument("--plots", required=True, help="directory for the tables of `dvc plots`")
    parser.add_argument("--predictions", required=True, help="step-1 test predictions (CSV)")
    parser.add_argument("--source", required=True, help="provenance of the raw data (JSON)")
    args = parser.parse_args()
    params = load_params()
    names = params.models.enabled
    evaluations = Path(args.evaluations)

    metrics = {n: json.loads((evaluations / n / "metrics.json").read_text()) for n in names}
    by_step = {
        n: pd.read_csv(evaluations / n / "predictions.csv", index_col="date", parse_dates=True)
        for n in names
    }
    # The leaderboard and its figure are about the first step, over every test origin.
    predictions = {n: p[p["step"] == p["step"].min()] for n, p in by_step.items()}
    per_step = {n: json.loads((evaluations / n / "per_step.json").read_text()) for n in names}
    tests = {n: against_naive_by_step(p) for n, p in by_step.items()}
    first = min(tests[names[0]])
    leaderboard = {
        n: {
            **metrics[n],
            "dm_statistic": tests[n][first].statistic,
            "dm_p_better": tests[n][first].p_better,
        }
        for n in names
    }
    # rows: models, columns: steps
    rmse_by_step = pd.DataFrame.from_dict(
        {n: {int(k): v["rmse"] for k, v in per_step[n].items()} for n in names}, orient="index"
    )
    p_by_step = pd.DataFrame.from_dict(
        {n: {k: t.p_better for k, t in tests[n].items()} for n in names}, orient="index"
    )
    histories = {
        n: json.loads((Path(args.models) / n / "history.json").read_text())
        for n in names
        if n in NETWORK_MODELS
    }
    table = pd.read_parquet(args.split)
    ranges = json.loads(Path(args.ranges).read_text())
    actual = predictions[names[0]]["actual"]

    figures_dir = Path(args.figures)
    report_dir = Path(args.report).parent
    figures = {}
    with atomic.atomic_dir(figures_dir) as tmp:
        before = table.loc[table.index < actual.index[0], params.data.target].iloc[-HISTORY_DAYS:]
        plots.forecast_figure(
            before,
            actual,
            {n: p["predicted"] for n, p in predictions.items()},
            f"{params.data.ticker} {params.data.target}: test-split forecasts",
            Path(tmp) / "forecasts.png",
        )
        figures["Forecasts against actual prices"] = "forecasts.png"
        plots.per_step_figure(rmse_by_step, Path(tmp) / "per_step.png")
        if histories:
            plots.loss_figure(histories, Path(tmp) / "loss.png")
            figures["Training curves"] = "loss.png"
    figure_links = {
        title: (figures_dir / name).relative_to(report_dir).as_posix()
        for title, name in figures.items()
    }
    context = {
        "ticker": params.data.ticker,
        "target": params.data.target,
        "horizon": params.window.horizon,
        "n_targets": len(actual),
        "experiment": params.tracking.experiment,
        # Only a model of the level is bound to the training range; changes are not.
        "range_note": range_note(table.loc[table["split"] == "train", params.data.target], actual)
        if params.target.transform == "level"
        else "",
        **{f"{split}_{edge}": ranges[split][edge] for split in ranges for edge in ("start", "end")},
    }
    source = json.loads(Path(args.source).read_text())
    if source["noise_floor"] is not None:
        origins = predictions[names[0]]["origin_date"]
        oracle = oracle_forecast(source["kind"], source["seed"], origins, actual.index)
        # The unrounded targets: predictions.csv keeps six decimals, enough to blur a floor of 0.
        exact = table.loc[actual.index, params.data.target].to_numpy()
        context["noise_floor_note"] = noise_floor_note(
            floor_at(source["noise_floor"], params.window.horizon),
            source["noise_floor"]["why"],
            params.data.ticker,
            params.window.horizon,
            float(np.sqrt(np.mean((exact - oracle) ** 2))),
            metrics,
        )
    per_step_figure = (Path(args.figures) / "per_step.png").relative_to(report_dir).as_posix()
    b = params.backtest
    folds = Path(args.backtest)
    # Each fold by the date it resolved to (fold.json), in time order.
    dated = {
        json.loads((folds / str(o) / b.models[0] / "fold.json").read_text())["origin"]: o
        for o in b.origins
    }
    per_fold = {
        model: {
            day: json.loads((folds / str(dated[day]) / model / "metrics.json").read_text())
            for day in sorted(dated)
        }
        for model in b.models
    }
    origins = sorted(dated)
    backtest = {m: {"folds": f, **mean_and_spread(f)} for m, f in per_fold.items()}
    window = "all days before" if b.scheme == "expanding" else f"the {b.train_days} days before"
    settings = (
        f"{len(origins)} folds ({b.scheme} window): each retrains every model from scratch "
        f"on {window} its {b.val_days} validation days, which end on the origin, with a "
        f"scaler fit on its own training days only, and is scored on the next {b.test_days} "
        "trading days (step 1), the naive forecast included."
    )
    sections = [
        per_step_section(rmse_by_step, p_by_step)
        + f"\n![Error by forecast step]({per_step_figure})\n",
        backtest_section(per_fold, backtest, settings),
    ]
    seed_runs = {n: json.loads((evaluations / n / "seeds.json").read_text()) for n in names}
    seeds = {n: {"seeds": runs, **mean_and_spread(runs)} for n, runs in seed_runs.items()}
    if params.seeds.count > 1:
        sections.append(seeds_section(seeds, params.seed_list()))
    markdown = comparison_markdown(leaderboard, context, figure_links, sections)
    title = f"seqcast: {params.data.ticker} {params.data.target} model comparison"
    html = render_html(markdown, report_dir, title)
    atomic.write_text(args.report, markdown)
    atomic.write_text(args.html, html)
    atomic.write_json(args.metrics, metrics)
    plot_data.write_plot_tables(args.plots, rmse_by_step, histories)
    plot_data.write_predictions(args.predictions, predictions)
    atomic.write_json(args.per_step, per_step)
    atomic.write_json(args.backtest_metrics, backtest)
    atomic.write_json(args.seeds, seeds)
    atomic.write_json(
        args.significance,
        {n: {str(k): t.to_dict() for k, t in tests[n].items()} for n in names if n != "naive"},
    )
    report_files = (args.report, args.html, args.metrics, args.per_step, args.significance)
    report_files += (args.backtest_metrics, args.seeds, args.predictions, args.figures)
    # The parent MLflow run of this pipeline execution gets the report and ends.
    tracking.finish_pipeline_run(params, files=[Path(p) for p in report_files], metrics=metrics)
    print(f"compare: {len(names)} models -> {args.report}")


if __name__ == "__main__":
    stage.run(main, "compare")
