"""Stage forecast: a recursive forecast past the last observed date (forecast.*).

The model is forecast.model, or with "best" the one with the lowest validation RMSE (never
chosen on the test split). Writes forecast.csv (date, step, recursive_forecast),
forecast.json (which model, why, from which date) and forecast.png.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from seqcast import atomic, plots, stage
from seqcast.evaluation import rounded
from seqcast.forecasting import choose_model, forecast_beyond, validation_rmse
from seqcast.models import load_model
from seqcast.params import load_params
from seqcast.scaling import scaler_from_dict
from seqcast.transforms import TargetCoder
from seqcast.windows import Windows

HISTORY_DAYS = 120  # observed days shown before the forecast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", required=True, help="directory of train@model outputs")
    parser.add_argument("--windows", required=True, help="directory with val.npz, target.json")
    parser.add_argument("--split", required=True, help="unscaled table with split column")
    parser.add_argument("--scaler", required=True, help="fitted scaler state (JSON)")
    parser.add_argument("--out", required=True, help="directory for the forecast CSV, JSON, PNG")
    args = parser.parse_args()
    params = load_params()
    target, days = params.data.target, params.forecast.days

    windows = Path(args.windows)
    val = Windows.load(windows / "val.npz")
    coder = TargetCoder.from_dict(json.loads((windows / "target.json").read_text()))
    scaler = scaler_from_dict(json.loads(Path(args.scaler).read_text()))
    table = pd.read_parquet(args.split)
    models = {name: load_model(Path(args.models) / name) for name in params.models.enabled}
    scores = {name: validation_rmse(m, val, table, coder, target) for name, m in models.items()}
    name = choose_model(params.forecast.model, scores)

    forecast = forecast_beyond(
        models[name],
        table,
        target=target,
        coder=coder,
        scaler=scaler,
        columns=[str(c) for c in val.feature_names],
        length=val.x.shape[1],
        days=days,
    )
    train_dates = table.index[table["split"] == "train"]
    last = table.index[-1]
    summary = {
        "method": "recursive",
        "model": name,
        "chosen_by": "lowest validation RMSE" if params.forecast.model == "best" else "params",
        "validation_rmse": rounded(scores),
        "last_observed_date": last.strftime("%Y-%m-%d"),
        "last_observed_price": float(table[target].iloc[-1]),
        "days": days,
        "trained_on": [d.strftime("%Y-%m-%d") for d in train_dates[[0, -1]]],
        "target_transform": coder.transform,
    }
    how = "best on validation" if params.forecast.model == "best" else "chosen in params"
    with atomic.atomic_dir(args.out) as tmp:
        out = Path(tmp)
        forecast.to_csv(out / "forecast.csv", date_format="%Y-%m-%d", float_format="%.6f")
        atomic.write_json(out / "forecast.json", summary)
        plots.future_forecast_figure(
            table[target].iloc[-HISTORY_DAYS:],
            forecast["recursive_forecast"],
            name,
            f"{params.data.ticker} {target}: recursive forecast of {days} business days after "
            f"{summary['last_observed_date']} by {name} ({how})",
            out / "forecast.png",
        )
    print(
        f"forecast: {name} ({how}; validation RMSE "
        + ", ".join(f"{n} {s:.4g}" for n, s in scores.items())
        + f"): {days} business days after {summary['last_observed_date']} -> {args.out}"
    )


if __name__ == "__main__":
    stage.run(main, "forecast")
