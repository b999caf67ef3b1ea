"""Stage download: raw daily prices of one ticker from the source in params (data.*)."""

import argparse

from seqcast import atomic, sources, stage
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="raw prices table (parquet)")
    args = parser.parse_args()
    data = load_params().data

    prices = sources.load_sample(data.sample_path, data.ticker)

    atomic.write_with(args.out, lambda tmp: prices.to_parquet(tmp, index=False))
    first, last = prices["date"].iloc[[0, -1]].dt.strftime("%Y-%m-%d")
    print(f"download: {len(prices)} days of {data.ticker} from {data.source}, {first} to {last}")


if __name__ == "__main__":
    stage.run(main, "download")
