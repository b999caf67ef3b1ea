"""Stage sweep_prices: the raw prices of every sweep ticker (sweep.tickers, or data.ticker)
from data.source, which each sweep@model reads, so that no sweep runs a source's code."""

import argparse

from seqcast import atomic, stage
from seqcast.jobs.sweep import sweep_prices
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="the sweep tickers' raw prices (parquet)")
    args = parser.parse_args()
    prices = sweep_prices(load_params(models=()))
    atomic.write_with(args.out, lambda tmp: prices.to_parquet(tmp, index=False))
    tickers = ", ".join(prices["ticker"].unique())
    print(f"sweep_prices: {len(prices)} rows of {tickers}")


if __name__ == "__main__":
    stage.run(main, "sweep_prices")
