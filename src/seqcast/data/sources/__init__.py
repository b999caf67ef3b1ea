"""Raw data from the source that `data.source` names, as one tidy, validated table.

Every source writes the same layout: `date`, `ticker`, then numeric columns (open, high,
low, close, volume for prices; the mapped names for a CSV; `value` for a synthetic
series), one block of rows per ticker with data.ticker first. The table is checked
against the schema in `schema.py` before anything is written. One source is never
replaced by another: a failure is an error.

The sources form a registry: each is a module of this package that defines `SOURCE`, a
`seqcast.data.sources.source.Source`. The built-ins are listed by name with their module,
imported one at a time when used, so that a stage depends on the source it reads; any
other module of the package that defines `SOURCE` is found when a name is not a built-in.
A source's heavy dependencies (yfinance) load inside its load function, when it is used.
"""

import importlib
import pkgutil
from collections.abc import Sequence
from typing import Any

from seqcast.config import Section
from seqcast.data.sources import schema
from seqcast.data.sources.raw import RawData
from seqcast.data.sources.sample import PRICE_COLUMNS, load_sample
from seqcast.data.sources.source import Source
from seqcast.errors import SeqcastError

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

# The built-in sources, in the order data.source lists them, and the module of each.
BUILT_IN: dict[str, str] = {
    "sample": "sample",
    "yfinance": "yfinance_source",
    "csv": "csv_source",
    "synthetic": "synthetic",
}
# Modules of this package that hold no source
HELPERS = ("raw", "schema", "source", "tickers")

_SOURCES: dict[str, Source] = {}
_discovered = False


def _register(module: str) -> None:
    declared = getattr(importlib.import_module(f"{__name__}.{module}"), "SOURCE", None)
    if not isinstance(declared, Source):
        return
    known = _SOURCES.get(declared.name)
    if known is not None and known is not declared:
        raise TypeError(f"source name {declared.name!r} is declared twice ({module})")
    _SOURCES[declared.name] = declared


def _discover() -> None:
    """Import the modules beyond the built-ins that declare sources (none, unless a user
    added one)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    known = {*BUILT_IN.values(), *HELPERS}
    for info in pkgutil.iter_modules(__path__):
        if info.name not in known:
            _register(info.name)


def source_names() -> tuple[str, ...]:
    """Every source, the built-ins first; no built-in's module is imported."""
    _discover()
    return (*BUILT_IN, *(name for name in _SOURCES if name not in BUILT_IN))


def source(name: str) -> Source:
    """The source `name`, importing its module (a built-in's alone)."""
    if name in BUILT_IN:
        _register(BUILT_IN[name])
    else:
        _discover()
    if name not in _SOURCES:
        raise SeqcastError(f"unknown source {name!r}; choose from {', '.join(source_names())}")
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
