"""Stage featurize: the target column with lags, rolling mean / std and returns (features.*)."""

import argparse

import pandas as pd

from seqcast import atomic, stage
from seqcast.features import make_features, warmup_rows
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("prices", help="raw prices table (parquet)")
    parser.add_argument("out", help="feature table (parquet)")
    args = parser.parse_args()
    params = load_params()
    f = params.features

    prices = pd.read_parquet(args.prices)
    table = make_features(prices, params.data.target, f.lags, f.rolling_windows, f.returns)

    atomic.write_with(args.out, table.to_parquet)
    skipped = warmup_rows(f.lags, f.rolling_windows, f.returns)
    print(
        f"featurize: {len(table)} rows x {table.shape[1]} features "
        f"(first {skipped} days only feed lags and rolling windows)"
    )


if __name__ == "__main__":
    stage.run(main, "featurize")
