"""Stage backtest@origin-model: one walk-forward fold of one model (backtest.*).

Cuts the fold out of the feature table, fits its own scaler on its own training rows,
trains the model from scratch and scores it on the fold's test block. Each (origin,
model) pair is its own DVC stage, so adding an origin or a model trains only the new
folds.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from seqcast import atomic, stage
from seqcast.backtest import run_fold
from seqcast.errors import SeqcastError
from seqcast.evaluation import rounded
from seqcast.folds import backtest_fold, origin_date
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("origin", help="a fold number or date (YYYY-MM-DD) of backtest.origins")
    parser.add_argument("model", help="model name, one of backtest.models")
    parser.add_argument("features", help="feature table (parquet)")
    parser.add_argument("out", help="directory for the fold's predictions and metrics")
    args = parser.parse_args()
    params = load_params()
    b = params.backtest
    origins = {str(o): o for o in b.origins}
    if args.origin not in origins or args.model not in b.models:
        raise SeqcastError(f"fold {args.origin} {args.model}: not in backtest.origins / .models")

    features = pd.read_parquet(args.features)
    origin = origin_date(origins[args.origin], features, params.split, b.test_days)
    table = backtest_fold(features, origin, b)
    result = run_fold(table, args.model, params)
    first = min(result.metrics_by_step)
    blocks = {
        split: {
            "rows": int((table["split"] == split).sum()),
            "start": table.index[table["split"] == split][0].strftime("%Y-%m-%d"),
            "end": table.index[table["split"] == split][-1].strftime("%Y-%m-%d"),
        }
        for split in ("train", "val", "test")
    }

    with atomic.atomic_dir(args.out) as tmp:
        out = Path(tmp)
        atomic.write_json(out / "metrics.json", rounded(result.metrics_by_step[first]))
        atomic.write_json(
            out / "per_step.json", {k: rounded(v) for k, v in result.metrics_by_step.items()}
        )
        result.predictions.to_csv(
            out / "predictions.csv", date_format="%Y-%m-%d", float_format="%.6f"
        )
        fold = {"origin": origin.isoformat(), "fold": args.origin, "scheme": b.scheme}
        atomic.write_json(out / "fold.json", {**fold, **blocks})
        atomic.write_json(out / "scaler.json", result.scaler.to_dict())
        (out / "history.json").write_text(json.dumps(result.history.to_dict(), indent=2) + "\n")
    m = result.metrics_by_step[first]
    print(
        f"backtest: {args.model} at {origin}: trained {blocks['train']['start']} .. "
        f"{blocks['train']['end']}, tested {blocks['test']['start']} .. "
        f"{blocks['test']['end']}: rmse {m['rmse']:.4g}, skill {m['skill_vs_naive']:.4g}"
    )


if __name__ == "__main__":
    stage.run(main, "backtest")
