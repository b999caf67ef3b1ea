"""Stage download: the raw table from the source in params (data.*), and its provenance."""

import argparse
import sys

from seqcast import atomic, stage
from seqcast.data import sources
from seqcast.params import load_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="raw table (parquet)")
    parser.add_argument("info", help="source, rows, dates and noise floor of the raw table (JSON)")
    args = parser.parse_args()
    data = load_params(models=()).data

    raw = sources.load_raw(data.source, data.source_config, data.ticker, data.other_tickers)
    info = sources.source_info(data.source, raw)

    atomic.write_with(args.out, lambda tmp: raw.prices.to_parquet(tmp, index=False))
    atomic.write_json(args.info, info)
    for note in raw.notes:
        print(f"download: {note}")
    for warning in raw.warnings:
        print(f"seqcast download: warning: {warning}", file=sys.stderr)
    for ticker, span in info["tickers"].items():
        print(
            f"download: {span['rows']} days of {ticker} from {data.source}, "
            f"{span['start']} to {span['end']}"
        )


if __name__ == "__main__":
    stage.run(main, "download")
