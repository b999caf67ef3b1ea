"""Rebuild data/sample/stocks.csv, the committed offline price snapshot.

Source: the Quandl WIKI prices (public domain) shipped by the PyPI package
bokeh-sampledata as bokeh_sampledata/_data/stocks.csv.gz. Its open/high/low/close
are as traded, while adj_close is split- and dividend-adjusted; we back-adjust
open/high/low/close by adj_close / close so that splits (AAPL 2000-06-21 and
2005-02-28, MSFT 2003-02-18) do not show up as crashes. Volume is kept as traded.

bokeh-sampledata is not a runtime dependency. To rebuild the snapshot:

    pip download --no-deps bokeh-sampledata==2026.1 -d /tmp/bsd
    unzip -o /tmp/bsd/bokeh_sampledata-*.whl 'bokeh_sampledata/_data/stocks.csv.gz' -d /tmp/bsd
    python data/sample/extract.py /tmp/bsd/bokeh_sampledata/_data/stocks.csv.gz
"""

import argparse
from pathlib import Path

import pandas as pd

TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
PRICE_COLUMNS = ["open", "high", "low", "close"]
OUT = Path(__file__).with_name("stocks.csv")


def extract(source: Path) -> pd.DataFrame:
    raw = pd.read_csv(source, parse_dates=["Date"])
    raw = raw.rename(columns=lambda c: c.lower().replace(" ", "_"))
    raw = raw[raw["ticker"].isin(TICKERS)]
    factor = raw["adj_close"] / raw["close"]
    adjusted = raw[["date", "ticker"]].copy()
    for column in PRICE_COLUMNS:
        adjusted[column] = (raw[column] * factor).round(6)
    adjusted["volume"] = raw["volume"]
    return adjusted.sort_values(["ticker", "date"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="path to bokeh_sampledata's stocks.csv.gz")
    args = parser.parse_args()
    frame = extract(args.source)
    frame.to_csv(OUT, index=False, date_format="%Y-%m-%d")
    print(f"wrote {len(frame)} rows to {OUT}")


if __name__ == "__main__":
    main()
