"""Stage forecast: a recursive forecast past the last observed date (forecast.*).

The model is forecast.model, or with "best" the one with the lowest validation RMSE (never
chosen on the test split). Writes forecast.csv (date, step, recursive_forecast),
forecast.json (which model, why, from which date) and forecast.png.
"""

import argparse
from pathlib import Path

import pandas as pd

from seqcast import artifacts, plots, stage
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
    val, prep = (
        artifacts.read_windows(args.windows, "val"),
        artifacts.read_preprocessing(args.windows),
    )
    f, table = params.forecast, pd.read_parquet(args.split)
    forecast = forecast_future(models, val, table, prep, f.model, f.days, params.data.ticker)
    with artifacts.output_dir(args.out) as out:
        artifacts.write_forecast(out, forecast.frame, forecast.summary)
        values, s = forecast.frame["recursive_forecast"], forecast.summary
        figure = out / artifacts.FORECAST_FIGURE
        plots.future_forecast_figure(forecast.observed, values, s["model"], forecast.title, figure)
    scores = ", ".join(f"{n} {v:.4g}" for n, v in s["validation_rmse"].items())
    print(
        f"forecast: {s['model']} ({forecast.how}; validation RMSE {scores}): {f.days} business "
        f"days after {s['last_observed_date']} -> {args.out}"
    )


if __name__ == "__main__":
    stage.run(main, "forecast")
