"""Any CSV file with a date column and numeric columns, mapped to the tidy layout by params.

`data.csv.columns` maps the names the raw table uses (keys) to the file's columns
(values); the Kaggle per-stock layout `date, open, high, low, close, volume, Name` is the
default mapping with `ticker_column: Name`. Every problem in the file is an error that
names the file lines: missing columns, unparseable dates, non-numeric values, duplicated
dates, dates out of order (sorted only when `data.csv.sort` says so) and missing values
(handled by `data.csv.missing`: error, ffill or drop), and a byte that the file's text
encoding (`data.csv.encoding`) cannot read. Unusually large gaps between dates, and a file
outside the repository, are warnings. The schema that every source's table meets is
checked by the caller.
"""

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from seqcast.config import Section
from seqcast.data.sources import schema
from seqcast.data.sources.raw import PRICE_FIELDS, RawData
from seqcast.data.sources.source import Source
from seqcast.data.sources.tickers import select_tickers
from seqcast.errors import SeqcastError

# Names of columns in the tidy raw table: lower-case identifiers, so that an extra input
# "TICKER.column" splits unambiguously at its last dot (tickers may hold dots: VOD.L).
COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# Cells read as a missing value; anything else that is not a finite number is an error.
MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"})
SHOWN = 5  # offending cells named in a message; the rest are counted


class CsvConfig(Section):
    """data.csv: any CSV with a date column and numeric columns; `columns` maps our names to
    the file's."""

    path: str = "data/sample/stocks.csv"
    date_column: str = "date"
    date_format: str | None = None  # strptime format such as %d/%m/%Y; None: ISO 8601
    ticker_column: str | None = "ticker"  # None: the whole file is the series of data.ticker
    columns: dict[str, str] = Field(default_factory=lambda: {n: n for n in PRICE_FIELDS})
    missing: Literal["error", "ffill", "drop"] = "error"
    sort: bool = False  # sort rows by date; otherwise unsorted dates are an error
    large_gap: Annotated[float, Field(gt=1)] = 5.0  # warn at gaps > large_gap x median spacing
    encoding: str = "utf-8"  # any codec Python knows: latin-1, cp1252, utf-16, ...

    @model_validator(mode="after")
    def _known_encoding(self) -> "CsvConfig":
        try:
            # As a text file opens it: codecs of bytes to bytes (base64) are refused too.
            io.TextIOWrapper(io.BytesIO(), encoding=self.encoding)
        except LookupError:
            raise ValueError(
                f"data.csv.encoding = {self.encoding!r}: not a text encoding Python knows; use "
                "one such as utf-8, latin-1 or cp1252"
            ) from None
        return self

    @model_validator(mode="after")
    def _distinct_columns(self) -> "CsvConfig":
        if not self.columns:
            raise ValueError("data.csv.columns is empty: map at least one numeric column")
        bad = [name for name in self.columns if not COLUMN_NAME.match(name)]
        if bad:
            raise ValueError(
                f"data.csv.columns: the names {bad} are not lower-case identifiers (a-z, 0-9, _ "
                "after a letter); each key is the name the column gets, each value the file's"
            )
        if {"date", "ticker"} & set(self.columns):
            raise ValueError(
                "data.csv.columns: 'date' and 'ticker' name the date and ticker columns; "
                "map them with data.csv.date_column and data.csv.ticker_column"
            )
        used = [self.date_column, self.ticker_column, *self.columns.values()]
        repeated = sorted({c for c in used if c is not None and used.count(c) > 1})
        if repeated:
            raise ValueError(
                f"data.csv: the file columns {repeated} are used twice among date_column, "
                "ticker_column and columns; map each file column once"
            )
        return self


def _line(index: int) -> int:
    """File line of a row: line 1 is the header, and blank lines keep their numbers."""
    return int(index) + 2


def _cells(rows: pd.Series) -> str:
    """'line 4 ('x'), line 9 ('')' for the first offending cells, then a count."""
    shown = ", ".join(f"line {_line(i)} ({v!r})" for i, v in rows.iloc[:SHOWN].items())
    more = len(rows) - SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _dated_lines(dates: pd.Series) -> str:
    """'2020-01-03 (line 4), 2020-01-06 (line 6)' for the first offending rows, then a count."""
    shown = ", ".join(f"{d:%Y-%m-%d} (line {_line(i)})" for i, d in dates.iloc[:SHOWN].items())
    more = len(dates) - SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _text(path: Path, encoding: str) -> str:
    """The file decoded whole, so that a byte the encoding cannot read is found at its
    offset in the file (pandas reports it within a buffer)."""
    if not path.is_file():
        raise SeqcastError(f"data.csv.path = '{path}': file not found")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise SeqcastError(f"data.csv.path = '{path}': cannot be read ({exc.strerror})") from None
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].decode(encoding, errors="replace").count("\n") + 1
        raise SeqcastError(
            f"data.csv.path = '{path}': not valid {encoding} text at byte {exc.start} (line "
            f"{line}); set data.csv.encoding (e.g. latin-1 or cp1252)"
        ) from None


def _read(path: Path, encoding: str) -> pd.DataFrame:
    try:
        # Every cell as text, so that parsing below can name each cell it cannot read.
        table = pd.read_csv(
            io.StringIO(_text(path, encoding)),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise SeqcastError(f"data.csv.path = '{path}': the file is empty") from None
    except pd.errors.ParserError as exc:
        raise SeqcastError(f"data.csv.path = '{path}': not a readable CSV file: {exc}") from None
    table = table[~(table == "").all(axis=1)]  # blank lines hold no data
    if table.empty:
        raise SeqcastError(f"data.csv.path = '{path}': no rows below the header")
    return table


def _check_columns(table: pd.DataFrame, csv: CsvConfig, path: Path) -> None:
    wanted = {f"data.csv.date_column = {csv.date_column!r}": csv.date_column}
    if csv.ticker_column is not None:
        wanted[f"data.csv.ticker_column = {csv.ticker_column!r}"] = csv.ticker_column
    for name, column in csv.columns.items():
        wanted[f"data.csv.columns.{name} = {column!r}"] = column
    missing = [key for key, column in wanted.items() if column not in table.columns]
    if missing:
        raise SeqcastError(
            f"data.csv.path = '{path}': missing columns: {'; '.join(missing)}; the file has "
            f"{', '.join(map(repr, table.columns))}"
        )


def _parse_dates(text: pd.Series, csv: CsvConfig, path: Path) -> pd.Series:
    text = text.str.strip()
    dates = pd.to_datetime(text, format=csv.date_format or "ISO8601", errors="coerce")
    bad = dates.isna()
    if bad.any():
        expected = f"the format {csv.date_format!r}" if csv.date_format else "ISO 8601 (2024-01-31)"
        raise SeqcastError(
            f"data.csv.path = '{path}': {int(bad.sum())} unparseable dates in column "
            f"{csv.date_column!r}: {_cells(text[bad])}; expected {expected}, or set "
            "data.csv.date_format"
        )
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)  # keep the wall-clock date the file wrote
    return dates


def _parse_numbers(table: pd.DataFrame, csv: CsvConfig, path: Path) -> pd.DataFrame:
    numbers = {}
    problems = []
    for name, column in csv.columns.items():
        text = table[column].str.strip()
        absent = text.isin(MISSING)
        values = pd.to_numeric(text.where(~absent), errors="coerce")
        bad = ~absent & (values.isna() | np.isinf(values.astype("float64")))
        if bad.any():
            problems.append(f"column {column!r} (data.csv.columns.{name}): {_cells(text[bad])}")
        numbers[name] = values
    if problems:
        raise SeqcastError(
            f"data.csv.path = '{path}': non-numeric values in " + "; ".join(problems)
        )
    return pd.DataFrame(numbers, index=table.index)


def _order(prices: pd.DataFrame, csv: CsvConfig, path: Path, notes: list[str]) -> pd.DataFrame:
    parts = []
    for ticker, rows in prices.groupby("ticker", sort=False):
        dates = rows["date"]
        repeated = dates[dates.duplicated(keep=False)]
        if not repeated.empty:
            raise SeqcastError(
                f"data.csv.path = '{path}': duplicated dates in {ticker}: "
                f"{_dated_lines(repeated)}; keep one row per date"
            )
        if not dates.is_monotonic_increasing:
            if not csv.sort:
                early = dates[dates.diff() < pd.Timedelta(0)]
                raise SeqcastError(
                    f"data.csv.path = '{path}': dates of {ticker} out of order, each earlier "
                    f"than the row before: {_dated_lines(early)}; sort the file or set "
                    "data.csv.sort: true"
                )
            rows = rows.sort_values("date", kind="stable")
            notes.append(f"sorted the {len(rows)} rows of {ticker} by date (data.csv.sort)")
        parts.append(rows)
    return pd.concat(parts)


def _missing_policy(
    prices: pd.DataFrame, csv: CsvConfig, path: Path, notes: list[str]
) -> pd.DataFrame:
    values = [c for c in prices.columns if c not in ("date", "ticker")]
    absent = prices[values].isna()
    if not absent.any().any():
        return prices

    def listing(mask: pd.DataFrame) -> str:
        return "; ".join(
            f"{column} of {ticker} on {_dated_lines(prices.loc[rows.index[rows], 'date'])}"
            for ticker, group in mask.groupby(prices["ticker"], sort=False)
            for column, rows in group.items()
            if rows.any()
        )

    if csv.missing == "error":
        raise SeqcastError(
            f"data.csv.path = '{path}': missing values: {listing(absent)}; fill them in the "
            "file, or set data.csv.missing: ffill (carry the last value forward) or drop "
            "(drop those rows)"
        )
    if csv.missing == "ffill":
        filled = prices.copy()
        filled[values] = prices.groupby("ticker", sort=False)[values].ffill()
        leading = filled[values].isna()
        if leading.any().any():
            raise SeqcastError(
                f"data.csv.path = '{path}': data.csv.missing = ffill cannot fill values "
                f"missing before a ticker's first value: {listing(leading)}"
            )
        notes.append(
            f"forward-filled {int(absent.to_numpy().sum())} missing values "
            f"(data.csv.missing = ffill): {listing(absent)}"
        )
        return filled
    dropped = absent.any(axis=1)
    notes.append(
        f"dropped {int(dropped.sum())} rows with missing values (data.csv.missing = drop): "
        + "; ".join(
            f"{ticker} on {_dated_lines(rows['date'])}"
            for ticker, rows in prices[dropped].groupby("ticker", sort=False)
        )
    )
    return prices[~dropped]


def _duration(span: pd.Timedelta) -> str:
    if span % pd.Timedelta(days=1) == pd.Timedelta(0):
        days = span.days
        return f"{days} day{'s' if days != 1 else ''}"
    return str(span)


def _gap_warnings(prices: pd.DataFrame, factor: float) -> list[str]:
    found = []
    for ticker, rows in prices.groupby("ticker", sort=False):
        gaps = schema.large_gaps(rows["date"], factor)
        if gaps:
            spacing = _duration(rows["date"].diff().median())
            listed = ", ".join(
                f"{a:%Y-%m-%d} to {b:%Y-%m-%d} ({_duration(b - a)})" for a, b in gaps[:SHOWN]
            )
            more = f" and {len(gaps) - SHOWN} more" if len(gaps) > SHOWN else ""
            found.append(
                f"{len(gaps)} unusually large gaps in {ticker} (over {factor:g} x the median "
                f"spacing of {spacing}, data.csv.large_gap): {listed}{more}"
            )
    return found


def _outside_warnings(path: Path) -> list[str]:
    """A file outside the repository (stages run at its root) is read, but DVC's record of
    the download stage's inputs cannot cover it."""
    if path.resolve().is_relative_to(Path.cwd().resolve()):
        return []
    return [
        f"data.csv.path = '{path}' is outside the repository: DVC cannot track it, so a "
        "change to it will not rerun the pipeline"
    ]


def load_csv(csv: CsvConfig, ticker: str, others: Sequence[str] = ()) -> RawData:
    """The tidy raw table of `ticker` (then `others`) from the CSV file that `csv` describes."""
    path = Path(csv.path)
    table = _read(path, csv.encoding)
    _check_columns(table, csv, path)
    if csv.ticker_column is None:
        tickers = pd.Series(ticker, index=table.index)
    else:
        where = f"column {csv.ticker_column!r} of {path}"
        table = select_tickers(table, csv.ticker_column, ticker, others, where)
        tickers = table[csv.ticker_column]

    prices = pd.concat(
        [
            _parse_dates(table[csv.date_column], csv, path).rename("date"),
            tickers.astype(str).rename("ticker"),
            _parse_numbers(table, csv, path),
        ],
        axis=1,
    )
    notes: list[str] = []
    prices = _order(prices, csv, path, notes)
    prices = _missing_policy(prices, csv, path, notes)
    return RawData(
        prices=prices.reset_index(drop=True),
        notes=notes,
        warnings=_outside_warnings(path) + _gap_warnings(prices, csv.large_gap),
        info={"path": str(path)},
    )


def _one_series(config: CsvConfig, ticker: str, tickers: Sequence[str]) -> list[str]:
    if config.ticker_column is None and len(tickers) > 1:
        return [
            f"data.tickers = {list(tickers)}: a CSV without data.csv.ticker_column holds one "
            "series; set data.csv.ticker_column to load several tickers"
        ]
    return []


SOURCE = Source(
    name="csv",
    Config=CsvConfig,
    load=load_csv,
    columns=lambda config: tuple(config.columns),
    check=_one_series,
    detail=lambda config: f" ({config.path})",
)
