"""Stage sweep@model: every (ticker, config, seed, fold) unit of sweep.* for one model,
on the sweep tickers' prices that the stage sweep_prices loaded.

Units finished by an earlier run (data/sweep/units/, by id) are not run again; the others
run on a local process pool, or on the Ray cluster at SEQCAST_RAY_ADDRESS, which changes
no result. Writes the table of the model's units; logs one MLflow parent run with a child
per unit. The stage sweep_summary finds the best config per ticker and model.
"""

import argparse

import pandas as pd

from seqcast import stage
from seqcast.jobs.sweep import run_sweep
from seqcast.ops.sweeps import results
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="a model of sweep.models")
    parser.add_argument("prices", help="the sweep tickers' raw prices (parquet)")
    parser.add_argument("table", help="one row per unit (parquet)")
    args = parser.parse_args()
    params = load_params(models=[args.model], with_source=False)
    swept = params.model_copy(update={"sweep": params.sweep.for_model(args.model)})
    run = run_sweep(swept, prices=pd.read_parquet(args.prices))
    results.write_table(run.table, args.table)
    print(
        f"sweep: {args.model}: {len(run.table)} units, {run.ran} run now on {run.executor} "
        f"and {len(run.table) - run.ran} from the cache, in {run.seconds:.0f} s"
    )


if __name__ == "__main__":
    stage.run(main, "sweep")
