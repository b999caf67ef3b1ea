"""Stage featurize: the target with lags, rolling mean / std, returns and extra columns."""

import argparse

import pandas as pd

from seqcast import atomic, stage
from seqcast.data.alignment import join_extra_columns, ticker_rows
from seqcast.data.features import make_features, warmup_rows
from seqcast.data.sources.schema import describe_dates
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("prices", help="raw prices table (parquet)")
    parser.add_argument("out", help="feature table (parquet)")
    args = parser.parse_args()
    params = load_params(models=(), with_source=False)
    f = params.features
    raw = pd.read_parquet(args.prices)
    prices = ticker_rows(raw, params.data.ticker)
    table = make_features(prices, params.data.target, f.lags, f.rolling_windows, f.returns)
    joined = join_extra_columns(table, raw, f.extra_inputs, f.join)
    table = joined.table
    atomic.write_with(args.out, table.to_parquet)
    skipped = warmup_rows(f.lags, f.rolling_windows, f.returns)
    print(
        f"featurize: {len(table)} rows x {table.shape[1]} features "
        f"(first {skipped} days only feed lags and rolling windows)"
    )
    if len(joined.dropped):
        print(
            f"featurize: features.join = inner dropped {len(joined.dropped)} dates on which an "
            f"extra column has no value: {describe_dates(joined.dropped)}"
        )


if __name__ == "__main__":
    stage.run(main, "featurize")
