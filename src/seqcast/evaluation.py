"""Score a model on the test windows in original units, against the naive forecast."""

import pandas as pd

from seqcast.metrics import forecast_metrics, naive_scale
from seqcast.models import Forecaster
from seqcast.transforms import TargetCoder
from seqcast.windows import Windows


def predict_test(
    model: Forecaster, test: Windows, table: pd.DataFrame, coder: TargetCoder, target: str
) -> pd.DataFrame:
    """Dated predictions in original units, beside the actual value and the naive forecast.

    `table` is the unscaled feature table with its split column: actual and naive values
    come from it directly, so they are exact, and only the model's output is decoded
    (unscaled, and for a change transform added to the origin's price).
    """
    naive = table.loc[test.origin_dates, target].to_numpy()
    predicted = coder.decode(model.predict(test.x), naive)
    return pd.DataFrame(
        {
            "origin_date": pd.DatetimeIndex(test.origin_dates),
            "actual": table.loc[test.target_dates, target].to_numpy(),
            "predicted": predicted,
            "naive": naive,
        },
        index=pd.DatetimeIndex(test.target_dates, name="date"),
    )


def score(predictions: pd.DataFrame, table: pd.DataFrame, target: str) -> dict[str, float]:
    scale = naive_scale(table.loc[table["split"] == "train", target].to_numpy())
    return forecast_metrics(
        predictions["actual"].to_numpy(),
        predictions["predicted"].to_numpy(),
        predictions["naive"].to_numpy(),
        scale,
    )


def score_by_step(
    predictions: pd.DataFrame, table: pd.DataFrame, target: str
) -> dict[int, dict[str, float]]:
    """Metrics of each forecast step (days after the origin) on its own dated targets."""
    return {
        int(step): score(rows, table, target)
        for step, rows in predictions.groupby("step", sort=True)
    }


def rounded(metrics: dict[str, float], digits: int = 6) -> dict[str, float]:
    """Metrics to `digits` significant digits: what reports show and CI compares."""
    return {key: float(f"{value:.{digits}g}") for key, value in metrics.items()}


def mean_and_spread(runs: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and spread (sample standard deviation; 0 for one run) of each metric over runs
    such as walk-forward folds or training seeds."""
    frame = pd.DataFrame.from_dict(runs, orient="index")  # rows: runs
    mean = frame.mean()
    spread = frame.std(ddof=1) if len(frame) > 1 else frame.std(ddof=0)
    # Runs that agree exactly (a deterministic model over seeds) have exactly their value as
    # mean and 0 as spread, not the rounding residue of summing and dividing.
    same = frame.nunique() == 1
    mean[same], spread[same] = frame.iloc[0][same], 0.0
    return {"mean": mean.to_dict(), "std": spread.to_dict()}
