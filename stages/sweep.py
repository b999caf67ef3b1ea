"""Stage sweep: every (ticker, model, config, seed, fold) unit of sweep.*, in one stage.

Units finished by an earlier run (data/sweep/units/, by id) are not run again; the others
run on a local process pool, or on the Ray cluster at SEQCAST_RAY_ADDRESS, which changes
no result. Writes the table of this sweep's units and the best config per ticker and
model against naive (reports/sweep.json); logs one MLflow parent run with a child per unit.
"""

import argparse

from seqcast import atomic, stage
from seqcast.jobs.sweep import run_sweep
from seqcast.ops.sweeps import results, summary
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("table", help="one row per unit (parquet)")
    parser.add_argument("summary", help="the best config per ticker and model (JSON)")
    args = parser.parse_args()
    run = run_sweep(load_params())
    results.write_table(run.table, args.table)
    atomic.write_json(args.summary, run.summary)
    print(summary.text_table(run.summary))
    print(
        f"sweep: {len(run.table)} units, {run.ran} run now on {run.executor} and "
        f"{len(run.table) - run.ran} from the cache, in {run.seconds:.0f} s"
    )


if __name__ == "__main__":
    stage.run(main, "sweep")
