"""What a source hands the download stage: the tidy table and what to say about it."""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

PRICE_FIELDS = ("open", "high", "low", "close", "volume")  # the columns of a price source


@dataclass
class RawData:
    prices: pd.DataFrame  # date, ticker, then numeric columns; one block of rows per ticker
    notes: list[str] = field(default_factory=list)  # what the source did, e.g. rows it dropped
    warnings: list[str] = field(default_factory=list)  # worth a look, not an error
    info: dict[str, Any] = field(default_factory=dict)  # provenance written to source.json
