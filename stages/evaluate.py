"""Stage evaluate@model: test-set predictions and metrics in price units, logged to MLflow."""

import argparse
from pathlib import Path

import pandas as pd

from seqcast import artifacts, stage
from seqcast.jobs.evaluate import evaluate_model, record_run
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="model name, one of models.enabled")
    parser.add_argument("--model-dir", required=True, help="saved model (train@model's output)")
    parser.add_argument("--windows", required=True, help="the window stage's output directory")
    parser.add_argument("--split", required=True, help="unscaled table with split column")
    parser.add_argument("--raw", required=True, help="raw prices, hashed for lineage")
    parser.add_argument("--source", required=True, help="where the raw prices came from (JSON)")
    parser.add_argument("--out", required=True, help="directory for metrics, predictions, figures")
    args = parser.parse_args()
    params = load_params(models=[args.model], with_source=False)
    table = pd.read_parquet(args.split)
    paths = {k: Path(getattr(args, k)) for k in ("model_dir", "windows", "raw", "source")}
    paths["evaluations"] = Path(args.out).parent  # every model's evaluation: reports/models
    with artifacts.output_dir(args.out) as out:
        result = evaluate_model(args.model, paths, table, Path(args.split), params, out)
    record_run(args.model, result.run_id)
    metrics = result.evaluation.metrics
    print(f"evaluate: {args.model}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))


if __name__ == "__main__":
    stage.run(main, "evaluate")
