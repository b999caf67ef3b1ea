"""Stage sweep_summary: the best config per ticker and model against naive, over the
tables of every sweep@model (reports/sweep.json), and those tables as one."""

import argparse
from pathlib import Path

from seqcast import atomic, stage
from seqcast.ops.sweeps import results, summary
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tables", help="directory of sweep@model tables, <model>.parquet")
    parser.add_argument("table", help="every unit, one row each (parquet)")
    parser.add_argument("summary", help="the best config per ticker and model (JSON)")
    args = parser.parse_args()
    s = load_params(models=(), with_source=False).sweep
    tables = [results.read_table(Path(args.tables) / f"{model}.parquet") for model in s.models]
    table = results.combine(tables)
    found = summary.summarize(table, s.significance)
    results.write_table(table, args.table)
    atomic.write_json(args.summary, found)
    print(summary.text_table(found))


if __name__ == "__main__":
    stage.run(main, "sweep_summary")
