"""Stage compare: leaderboard, figures and metrics.json across models.enabled."""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from seqcast import atomic, plots, stage
from seqcast.params import RECURRENT_MODELS, load_params
from seqcast.report import comparison_markdown, noise_floor_note, range_note
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
    parser.add_argument("--figures", required=True, help="directory for the report's figures")
    parser.add_argument("--source", required=True, help="provenance of the raw data (JSON)")
    args = parser.parse_args()
    params = load_params()
    names = params.models.enabled
    evaluations = Path(args.evaluations)

    metrics = {n: json.loads((evaluations / n / "metrics.json").read_text()) for n in names}
    predictions = {
        n: pd.read_csv(evaluations / n / "predictions.csv", index_col="date", parse_dates=True)
        for n in names
    }
    histories = {
        n: json.loads((Path(args.models) / n / "history.json").read_text())
        for n in names
        if n in RECURRENT_MODELS
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
        "range_note": range_note(table.loc[table["split"] == "train", params.data.target], actual),
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
    atomic.write_text(args.report, comparison_markdown(metrics, context, figure_links))
    atomic.write_json(args.metrics, metrics)
    print(f"compare: {len(names)} models -> {args.report}")


if __name__ == "__main__":
    stage.run(main, "compare")
