"""Stage forecast: a recursive forecast past the last observed date (forecast.*), by
forecast.model or, with "best", the lowest validation RMSE (never the test split's)."""

import argparse
from pathlib import Path

from seqcast import artifacts, stage
from seqcast.forecasting import forecast_trained
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", required=True, help="directory of train@model outputs")
    parser.add_argument("--windows", required=True, help="the window stage's output directory")
    parser.add_argument("--split", required=True, help="unscaled table with split column")
    parser.add_argument("--out", required=True, help="directory for the forecast CSV, JSON, PNG")
    args = parser.parse_args()
    params = load_params()
    f, paths = params.forecast, [Path(p) for p in (args.models, args.windows, args.split)]
    enabled, ticker = params.models.enabled, params.data.ticker
    forecast = forecast_trained(*paths, enabled, f.model, f.days, ticker)
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
