"""Stage compare: leaderboard, significance, figures and metrics across models.enabled.

Writes, under --reports, the markdown report and a self-contained HTML copy of it,
metrics.json (step-1 metrics per model: the headline that DVC shows), per_step.json
(metrics per model and step), significance.json (Diebold-Mariano tests against the naive
forecast per model and step), backtest.json, seeds.json, predictions.csv (step-1 test
predictions, for the gate and `dvc plots`), intervals.json (interval coverage), the
figures and plot tables; the report ends with the forecast past the last date."""

import argparse
from dataclasses import fields
from pathlib import Path

from seqcast import stage
from seqcast.jobs.compare import Inputs, compare, publish, record
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluations", required=True, help="directory of evaluate@ outputs")
    parser.add_argument("--models", required=True, help="directory of train@model outputs")
    parser.add_argument("--backtest", required=True, help="directory of backtest@ outputs")
    parser.add_argument("--forecast", required=True, help="the forecast stage's output directory")
    parser.add_argument("--split", required=True, help="unscaled table with split column")
    parser.add_argument("--ranges", required=True, help="split date ranges (JSON)")
    parser.add_argument("--source", required=True, help="provenance of the raw data (JSON)")
    parser.add_argument("--sweep", required=True, help="the sweep stage's summary (JSON)")
    parser.add_argument("--reports", required=True, help="directory for the report and its data")
    args = parser.parse_args()
    params = load_params(models=(), with_source=False)
    result = compare(params, Inputs(*(Path(getattr(args, f.name)) for f in fields(Inputs))))
    files = publish(result, Path(args.reports))  # then the parent MLflow run gets them, ends
    record(params, result, files)
    print(f"compare: {len(result.metrics)} models -> {files[0]}")


if __name__ == "__main__":
    stage.run(main, "compare")
