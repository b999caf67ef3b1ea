"""The building blocks of every config section, shared by models, sources and params.

A model or a source declares its own section (a `Section`) from these types;
`seqcast.params` composes the sections into the schema of params.yaml.
"""

import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError


class Section(BaseModel):
    """A block of params.yaml: unknown keys are errors, values are immutable once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


def is_iso_date(text: str) -> bool:
    """Whether `text` is a calendar date written YYYY-MM-DD."""
    try:
        return len(text) == 10 and bool(datetime.date.fromisoformat(text))
    except ValueError:
        return False


def _quoted_iso_date(value: Any) -> Any:
    if isinstance(value, datetime.date):
        raise PydanticCustomError(
            "iso_date", "write the date in quotes, as DVC rejects YAML dates: '2015-01-02'"
        )
    if isinstance(value, str) and not is_iso_date(value):
        raise PydanticCustomError("iso_date", "expected a date written YYYY-MM-DD, in quotes")
    return value  # not a str: the str type reports it


# Dates stay strings: DVC reads params.yaml too and rejects YAML date values, so they are
# written quoted ("2015-01-02") and checked here.
IsoDate = Annotated[str, BeforeValidator(_quoted_iso_date)]


def choices(values: tuple[str, ...] | list[str]) -> str:
    """'a', 'b' or 'c': the allowed values, for a message."""
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
