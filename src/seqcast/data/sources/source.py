"""What a data source declares: its name, its params block and how it loads.

A source is one module of `seqcast.data.sources` that defines `SOURCE = Source(...)`; the
registry (`seqcast.data.sources`) finds it, and `seqcast.params` derives the choices of
`data.source` and the block `data.<name>` from it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from seqcast.config import Section
from seqcast.data.sources.raw import RawData


def _no_problems(config: Any, ticker: str, tickers: Sequence[str]) -> list[str]:
    return []


def _no_detail(config: Any) -> str:
    return ""


@dataclass(frozen=True)
class Source:
    name: str  # its value of data.source, and its block data.<name>
    Config: type[Section]
    # (config, data.ticker, the other tickers) -> the tidy raw table, data.ticker first
    load: Callable[[Any, str, Sequence[str]], RawData]
    # config -> the numeric columns of the raw table, besides date and ticker
    columns: Callable[[Any], tuple[str, ...]]
    # (config, data.ticker, data.tickers) -> what is wrong with these tickers for it
    check: Callable[[Any, str, Sequence[str]], list[str]] = _no_problems
    # config -> what to add to "data.source = <name>" in a message, e.g. the file read
    detail: Callable[[Any], str] = _no_detail
