"""Stage forecast: a recursive forecast past the last observed date (forecast.*), by
forecast.model or, with "best", the lowest validation RMSE (never the test split's)."""

import argparse
from pathlib import Path

import pandas as pd

from seqcast import artifacts, stage
from seqcast.forecasting import forecast_future
from seqcast.models import load_model
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", required=True, help="directory of train@model outputs")
    parser.add_argument("--windows", required=True, help="the window stage's output directory")
    parser.add_argument("--split", required=True, help="unscaled table with split column")
    parser.add_argument("--out", required=True, help="directory for the forecast CSV, JSON, PNG")
    args = parser.parse_args()
    params = load_params()
    models = {name: load_model(Path(args.models) / name) for name in params.models.enabled}
    prep = artifacts.read_preprocessing(args.windows)
    val = artifacts.read_windows(args.windows, "val")
    f, table = params.forecast, pd.read_parquet(args.split)
    forecast = forecast_future(models, val, table, prep, f.model, f.days, params.data.ticker)
    with artifacts.output_dir(args.out) as out:
        artifacts.write_forecast(out, forecast.frame, forecast.summary)
        forecast.figure(out / artifacts.FORECAST_FIGURE)
    s = forecast.summary
    scores = ", ".join(f"{n} {v:.4g}" for n, v in s["validation_rmse"].items())
    days = f"{f.days} business days after {s['last_observed_date']}"
    print(
        f"forecast: {s['model']} ({forecast.how}; validation RMSE {scores}): {days} -> {args.out}"
    )


if __name__ == "__main__":
    stage.run(main, "forecast")
