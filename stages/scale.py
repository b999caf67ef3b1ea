"""Stage scale: fit the scaler on the training rows only, apply it to every row (scale.*)."""

import argparse

import pandas as pd

from seqcast import atomic, stage
from seqcast.params import load_params
from seqcast.prep.scaling import scale_split_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("split", help="feature table with a split column (parquet)")
    parser.add_argument("out", help="scaled table (parquet)")
    parser.add_argument("state", help="fitted scaler state (JSON)")
    args = parser.parse_args()
    method = load_params(models=(), with_source=False).scale.method

    table = pd.read_parquet(args.split)
    scaled, scaler = scale_split_table(table, method)

    atomic.write_with(args.out, scaled.to_parquet)
    columns = [c for c in table.columns if c != "split"]
    atomic.write_json(args.state, {"columns": columns, **scaler.to_dict()})
    print(f"scale: {method} scaler fit on {int((table['split'] == 'train').sum())} training rows")


if __name__ == "__main__":
    stage.run(main, "scale")
