"""Stage check: the params against the downloaded data, before anything trains.

Fails in seconds, with one clear message, when the data cannot give what the params ask
for (seqcast.jobs.check); writes a short summary that featurize depends on, so that DVC runs
this stage first.
"""

import argparse

import pandas as pd

from seqcast import atomic, stage
from seqcast.jobs.check import check_data
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("prices", help="raw prices table (parquet)")
    parser.add_argument("out", help="summary of the checked data (JSON)")
    args = parser.parse_args()

    summary = check_data(load_params(models=(), with_source=False), pd.read_parquet(args.prices))

    atomic.write_json(args.out, summary)
    print(
        f"check: {summary['rows']} rows from {summary['start']} to {summary['end']} fit the "
        f"split, window and backtest asked for"
    )


if __name__ == "__main__":
    stage.run(main, "check")
