"""Stage evaluate@model: test-set predictions and metrics in price units, logged to MLflow."""

import argparse
import json
from pathlib import Path

import pandas as pd

from seqcast import atomic, inspection, plots, stage, tracking
from seqcast.evaluation import rounded, score_by_step
from seqcast.models import load_model
from seqcast.multistep import forecasts_by_step
from seqcast.params import NETWORK_MODELS, RECURRENT_MODELS, load_params
from seqcast.scaling import scaler_from_dict
from seqcast.transforms import TargetCoder
from seqcast.windows import Windows

HISTORY_DAYS = 120  # how much pre-test history the figure shows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="model name, one of models.enabled")
    parser.add_argument("--model-dir", required=True, help="saved model (train@model's output)")
    parser.add_argument("--windows", required=True, help="directory with test.npz, target.json")
    parser.add_argument("--split", required=True, help="unscaled table with split column")
    parser.add_argument("--scaler", required=True, help="fitted scaler state (JSON)")
    parser.add_argument("--raw", required=True, help="raw prices, hashed for lineage")
    parser.add_argument("--out", required=True, help="directory for metrics, predictions, figures")
    args = parser.parse_args()
    params = load_params()
    target = params.data.target
    model_dir = Path(args.model_dir)

    model = load_model(model_dir)
    test = Windows.load(Path(args.windows) / "test.npz")
    table = pd.read_parquet(args.split)
    coder = TargetCoder.from_dict(json.loads((Path(args.windows) / "target.json").read_text()))
    scaler = scaler_from_dict(json.loads(Path(args.scaler).read_text()))
    predictions = forecasts_by_step(
        model,
        test,
        table,
        coder=coder,
        scaler=scaler,
        target=target,
        horizon=params.window.horizon,
        steps=params.multistep.steps,
    )
    by_step = score_by_step(predictions, table, target)
    # The headline metrics are those of the first step, over every test origin.
    metrics = by_step[min(by_step)]
    first_step = predictions[predictions["step"] == min(by_step)]
    # The same model trained with the extra seeds of seeds.count, if any (train@model).
    seed_metrics = {str(params.train.seed): metrics}
    for directory in sorted((model_dir / "seeds").glob("*"), key=lambda p: int(p.name)):
        seeded = forecasts_by_step(
            load_model(directory),
            test,
            table,
            coder=coder,
            scaler=scaler,
            target=target,
            horizon=params.window.horizon,
            steps=params.multistep.steps,
        )
        seed_metrics[directory.name] = score_by_step(seeded, table, target)[min(by_step)]
    history = json.loads((model_dir / "history.json").read_text())
    recurrent = args.model in RECURRENT_MODELS

    with atomic.atomic_dir(args.out) as tmp:
        out = Path(tmp)
        atomic.write_json(out / "metrics.json", rounded(metrics))
        atomic.write_json(out / "per_step.json", {k: rounded(v) for k, v in by_step.items()})
        atomic.write_json(out / "seeds.json", {k: rounded(v) for k, v in seed_metrics.items()})
        predictions.to_csv(out / "predictions.csv", date_format="%Y-%m-%d", float_format="%.6f")
        before = table.loc[table.index < first_step.index[0], target].iloc[-HISTORY_DAYS:]
        plots.forecast_figure(
            before,
            first_step["actual"],
            {args.model: first_step["predicted"]},
            f"{params.data.ticker} {target}: {args.model} on the test split",
            out / "forecast.png",
        )
        if args.model in NETWORK_MODELS:
            plots.loss_figure({args.model: history}, out / "loss.png")
        inspection.write_artifacts(args.model, model, test, out)
        run_id = tracking.record_model_run(
            name=args.model,
            params=params,
            metrics=metrics,
            history=history,
            report_dir=out,
            model_dir=model_dir,
            raw_data=Path(args.raw),
            net=model.net if recurrent else None,
            # What the network itself reads: the windows as the model anchors them.
            input_example=model.net_inputs(test.x[:2]) if recurrent else None,
            inputs=[Path(p) for p in (model_dir, args.windows, args.split, args.scaler, args.raw)],
        )
    atomic.write_json(tracking.run_record(Path.cwd(), args.model), {"run_id": run_id})
    print(f"evaluate: {args.model}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))


if __name__ == "__main__":
    stage.run(main, "evaluate")
