"""Forecasts past the last observed date: choose the model on validation, roll it forward.

The model is chosen on the validation split (never on the test split, which would make the
test score optimistic) unless params name one. Its forecast is recursive: each business
day's input window holds the days before it, predicted ones included, so errors compound
with the distance from the last observed price.
"""

import numpy as np
import pandas as pd

from seqcast.errors import SeqcastError
from seqcast.metrics import rmse
from seqcast.models import Forecaster
from seqcast.multistep import history_needed, recursive_forecast
from seqcast.scaling import AffineScaler
from seqcast.transforms import TargetCoder
from seqcast.windows import Windows


def validation_rmse(
    model: Forecaster, val: Windows, table: pd.DataFrame, coder: TargetCoder, target: str
) -> float:
    """RMSE in price units of the model's next-day forecasts on the validation windows."""
    origin = table.loc[pd.DatetimeIndex(val.origin_dates), target].to_numpy()
    predicted = coder.decode(model.predict(val.x), origin)
    target_dates = val.target_dates if val.target_dates.ndim == 1 else val.target_dates[:, 0]
    predicted = predicted if predicted.ndim == 1 else predicted[:, 0]
    actual = table.loc[pd.DatetimeIndex(target_dates), target].to_numpy()
    return rmse(actual, predicted)


def choose_model(choice: str, scores: dict[str, float]) -> str:
    """`choice` itself, or with "best" the lowest validation RMSE (ties: the first listed)."""
    if choice == "best":
        return min(scores, key=scores.__getitem__)
    if choice not in scores:
        raise SeqcastError(f"forecast.model = {choice!r}: choose 'best' or one of {list(scores)}")
    return choice


def future_business_days(last: pd.Timestamp, days: int) -> pd.DatetimeIndex:
    """The `days` business days (Monday to Friday) after `last`; exchange holidays included."""
    return pd.bdate_range(last + pd.offsets.BDay(1), periods=days, name="date")


def forecast_beyond(
    model: Forecaster,
    table: pd.DataFrame,
    *,
    target: str,
    coder: TargetCoder,
    scaler: AffineScaler,
    columns: list[str],
    length: int,
    days: int,
) -> pd.DataFrame:
    """A recursive forecast of `days` business days after the table's last date."""
    prices = table[target].to_numpy(dtype="float64")
    context = length + history_needed(columns, target)
    if len(prices) < context:
        raise SeqcastError(f"the series has {len(prices)} days; a forecast needs {context}")
    predicted = recursive_forecast(
        model,
        prices[None, -context:],  # (1, context)
        days,
        coder=coder,
        scaler=scaler,
        columns=columns,
        target=target,
        length=length,
    )[0]
    return pd.DataFrame(
        {"step": np.arange(1, days + 1), "recursive_forecast": predicted},
        index=future_business_days(table.index[-1], days),
    )
