"""The results of a sweep: a cache of finished units that persists across runs, and the
table of one sweep's units.

The cache holds one JSON file per unit, named by its id (seqcast.jobs.sweep_units.unit_id),
written atomically as each unit ends: a sweep that stops half way keeps what it finished,
and adding a seed or a ticker runs only the new units. It is not a DVC output; the table
(data/sweep/results.parquet) is, and holds exactly the units of the current params, in
a fixed order, so that it is the same file whoever ran them and wherever.
"""

import json
from pathlib import Path
from typing import Any

import pandas as pd

from seqcast import atomic

CACHE = Path("data") / "sweep" / "units"
ORDER = ["ticker", "model", "config", "seed", "origin"]


def cached(cache: Path, unit_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The finished units among `unit_ids`: id -> row."""
    rows = {}
    for unit_id in unit_ids:
        path = cache / f"{unit_id}.json"
        if path.is_file():
            rows[unit_id] = json.loads(path.read_text())
    return rows


def store(cache: Path, row: dict[str, Any]) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    atomic.write_text(cache / f"{row['unit_id']}.json", json.dumps(row, sort_keys=True))


def table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per unit, ordered by ticker, model, config, seed and fold."""
    frame = pd.DataFrame(rows)
    frame["origin"] = frame["origin"].astype(str)
    # a fixed column order too: a row from the cache reads back with its keys sorted
    columns = ["unit_id", *ORDER, *sorted(set(frame.columns) - {"unit_id", *ORDER})]
    return frame[columns].sort_values(ORDER, kind="stable").reset_index(drop=True)


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The tables of several sweeps (one per model) as one, in the order of `table`."""
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(ORDER, kind="stable").reset_index(drop=True)


def read_table(path: str | Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    atomic.write_with(path, lambda tmp: frame.to_parquet(tmp, index=False))
