"""Stage split: contiguous train / val / test blocks by time (split.*)."""

import argparse

import pandas as pd

from seqcast import atomic, stage
from seqcast.params import load_params
from seqcast.prep.splitting import date_ranges, split_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features", help="feature table (parquet)")
    parser.add_argument("out", help="feature table with a split column (parquet)")
    parser.add_argument("ranges", help="dates and row counts per split (JSON)")
    args = parser.parse_args()
    s = load_params(models=(), with_source=False).split

    labelled = split_table(pd.read_parquet(args.features), s)
    ranges = date_ranges(labelled)

    atomic.write_with(args.out, labelled.to_parquet)
    atomic.write_json(args.ranges, ranges)
    for name, r in ranges.items():
        print(f"split: {name:<5} {r['rows']:>5} rows  {r['start']} .. {r['end']}")


if __name__ == "__main__":
    stage.run(main, "split")
