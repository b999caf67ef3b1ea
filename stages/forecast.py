"""Stage forecast: a recursive forecast past the last observed date (forecast.*), with 80%
and 95% conformal bands, by forecast.model: "best" (the lowest validation RMSE, never the
test split's), a model of models.enabled, or a registered one (models:/<name>@champion)."""

import argparse
from pathlib import Path

from seqcast import artifacts, stage
from seqcast.jobs.forecast import forecast_trained, store_uri
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluations", required=True, help="directory of evaluate@model outputs")
    parser.add_argument("--split", required=True, help="unscaled table with split column")
    parser.add_argument("--out", required=True, help="directory for the forecast CSV, JSON, PNG")
    args = parser.parse_args()
    params = load_params(models=(), with_source=False)
    f, enabled, ticker = params.forecast, params.models.enabled, params.data.ticker
    forecast = forecast_trained(
        Path(args.evaluations), None, Path(args.split), enabled, f.model, f.days, ticker,
        store_uri(f.model), f.significance,
    )  # fmt: skip
    with artifacts.output_dir(args.out) as out:
        artifacts.write_forecast(out, forecast.frame, forecast.summary)
        forecast.figure(out / artifacts.FORECAST_FIGURE)
    print(f"forecast: {forecast.describe()} -> {args.out}")


if __name__ == "__main__":
    stage.run(main, "forecast")
