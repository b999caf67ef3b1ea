"""Raw data from the source that `data.source` names, as one tidy, validated table.

Every source writes the same layout: `date`, `ticker`, then numeric columns (open, high,
low, close, volume for prices; the mapped names for a CSV; `value` for a synthetic
series), one block of rows per ticker with data.ticker first. The table is checked
against the schema in `schema.py` before anything is written. One source is never
replaced by another: a failure is an error.

The sources form a registry: each is a module of this package that defines `SOURCE`, a
`seqcast.sources.source.Source`; the first call here imports every module of the package.
A source's heavy dependencies (yfinance) load inside its load function, when it is used.
"""

import importlib
import pkgutil
from collections.abc import Sequence
from typing import Any

from seqcast.config import Section
from seqcast.errors import SeqcastError
from seqcast.sources import schema
from seqcast.sources.raw import RawData
from seqcast.sources.sample import PRICE_COLUMNS, load_sample
from seqcast.sources.source import Source

__all__ = [
    "PRICE_COLUMNS",
    "RawData",
    "Source",
    "load_raw",
    "load_sample",
    "source",
    "source_info",
    "source_names",
]

# Imported first, in this order, so that data.source lists the built-ins in this order.
BUILT_IN_MODULES = ("sample", "yfinance_source", "csv_source", "synthetic")

_SOURCES: dict[str, Source] = {}


def _discover() -> None:
    if _SOURCES:
        return
    found = [info.name for info in pkgutil.iter_modules(__path__)]
    for name in [*BUILT_IN_MODULES, *(m for m in found if m not in BUILT_IN_MODULES)]:
        declared = getattr(importlib.import_module(f"{__name__}.{name}"), "SOURCE", None)
        if not isinstance(declared, Source):
            continue
        known = _SOURCES.get(declared.name)
        if known is not None and known is not declared:
            raise TypeError(f"source name {declared.name!r} is declared twice ({name})")
        _SOURCES[declared.name] = declared


def source_names() -> tuple[str, ...]:
    """Every registered source, the built-ins first."""
    _discover()
    return tuple(_SOURCES)


def source(name: str) -> Source:
    _discover()
    if name not in _SOURCES:
        raise SeqcastError(f"unknown source {name!r}; choose from {', '.join(_SOURCES)}")
    return _SOURCES[name]


def source_info(name: str, raw: RawData) -> dict[str, Any]:
    """Provenance of the raw table, written beside it: source, rows, dates, noise floor."""
    by_ticker = raw.prices.groupby("ticker", sort=False)["date"]
    return {
        "source": name,
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


def load_raw(name: str, config: Section, ticker: str, others: Sequence[str] = ()) -> RawData:
    """The raw table of `ticker`, then `others`, from source `name` configured by `config`
    (its block data.<name>), checked by the schema."""
    spec = source(name)
    raw = spec.load(config, ticker, others)
    schema.validate(raw.prices, f"data.source = {name}{spec.detail(config)}")
    raw.prices = raw.prices.reset_index(drop=True)
    return raw
