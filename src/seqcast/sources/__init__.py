"""Raw data from the source that `data.source` names, as one tidy, validated table.

Every source writes the same layout: `date`, `ticker`, then numeric columns (open, high,
low, close, volume for prices; the mapped names for a CSV; `value` for a synthetic
series), one block of rows per ticker with data.ticker first. The table is checked
against the schema in `schema.py` before anything is written. One source is never
replaced by another: a failure is an error.
"""

from typing import Any

from seqcast.params import DataParams
from seqcast.sources import schema
from seqcast.sources.raw import RawData
from seqcast.sources.sample import PRICE_COLUMNS, load_sample

__all__ = ["PRICE_COLUMNS", "RawData", "load_raw", "load_sample", "source_info"]


def _load(data: DataParams) -> RawData:
    # Imported here: each source's dependencies load only when that source is used.
    if data.source == "sample":
        prices = load_sample(data.sample_path, data.ticker, data.other_tickers)
        return RawData(prices=prices, info={"path": data.sample_path})
    if data.source == "yfinance":
        from seqcast.sources.yfinance_source import download_yfinance

        return download_yfinance(data.yfinance, data.ticker, data.other_tickers)
    if data.source == "csv":
        from seqcast.sources.csv_source import load_csv

        return load_csv(data.csv, data.ticker, data.other_tickers)
    from seqcast.sources.synthetic import generate

    return generate(data.synthetic.kind, data.synthetic.seed)


def source_info(data: DataParams, raw: RawData) -> dict[str, Any]:
    """Provenance of the raw table, written beside it: source, rows, dates, noise floor."""
    by_ticker = raw.prices.groupby("ticker", sort=False)["date"]
    return {
        "source": data.source,
        **raw.info,
        "tickers": {
            ticker: {
                "rows": int(dates.size),
                "start": dates.iloc[0].strftime("%Y-%m-%d"),
                "end": dates.iloc[-1].strftime("%Y-%m-%d"),
            }
            for ticker, dates in by_ticker
        },
        "noise_floor": raw.info.get("noise_floor"),
    }


def load_raw(data: DataParams) -> RawData:
    """The raw table of data.ticker and data.tickers from data.source, checked by the schema."""
    raw = _load(data)
    where = f"data.source = {data.source}"
    if data.source == "csv":
        where += f" ({data.csv.path})"
    schema.validate(raw.prices, where)
    raw.prices = raw.prices.reset_index(drop=True)
    return raw
