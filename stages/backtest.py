"""Stage backtest@origin-model: one walk-forward fold of one model (backtest.*).

Cuts the fold out of the feature table, fits its own scaler on its own training rows,
trains the model from scratch and scores it on the fold's test block. Each (origin,
model) pair is its own DVC stage, so adding an origin or a model trains only the new
folds.
"""

import argparse

import pandas as pd

from seqcast import artifacts, stage
from seqcast.jobs.backtest import backtest
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("origin", help="a fold number or date (YYYY-MM-DD) of backtest.origins")
    parser.add_argument("model", help="model name, one of backtest.models")
    parser.add_argument("features", help="feature table (parquet)")
    parser.add_argument("out", help="directory for the fold's predictions and metrics")
    args = parser.parse_args()
    params = load_params(models=[args.model], with_source=False)
    r = backtest(args.origin, args.model, pd.read_parquet(args.features), params)
    with artifacts.output_dir(args.out) as out:
        artifacts.write_fold(out, r.fold, r.predictions, r.metrics_by_step, r.prep, r.history)
        artifacts.write_intervals(out, r.intervals)
    train, test, m = r.fold["train"], r.fold["test"], r.metrics
    print(
        f"backtest: {args.model} at {r.fold['origin']}: trained {train['start']} .. "
        f"{train['end']}, tested {test['start']} .. {test['end']}: rmse {m['rmse']:.4g}, "
        f"skill {m['skill_vs_naive']:.4g}"
    )


if __name__ == "__main__":
    stage.run(main, "backtest")
