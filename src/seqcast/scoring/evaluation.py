"""Score a model on the test windows in original units, against the naive forecast."""

from dataclasses import dataclass

import pandas as pd

from seqcast.forecasting.multistep import forecasts_by_step
from seqcast.models import Forecaster
from seqcast.prep.preprocessing import Preprocessing
from seqcast.prep.windows import Windows
from seqcast.scoring.metrics import forecast_metrics, naive_scale


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


@dataclass(frozen=True)
class Evaluation:
    """A model on the test split: its forecasts of every step, their metrics, and the first
    step's metrics of the same model trained with each seed."""

    predictions: pd.DataFrame  # one row per (origin, step), as forecasts_by_step gives
    by_step: dict[int, dict[str, float]]
    seeds: dict[str, dict[str, float]]  # the pipeline's own seed first

    @property
    def metrics(self) -> dict[str, float]:
        """The headline: the first step's metrics, over every test origin."""
        return self.by_step[min(self.by_step)]

    @property
    def first_step(self) -> pd.DataFrame:
        return self.predictions[self.predictions["step"] == min(self.by_step)]


def evaluate(
    model: Forecaster,
    seeded: dict[str, Forecaster],
    seed: int,
    test: Windows,
    table: pd.DataFrame,
    prep: Preprocessing,
    steps: int,
) -> Evaluation:
    """Score `model` (trained with `seed`) and its copies trained with the `seeded` seeds on
    the test windows; `table` is the unscaled feature table with its split column."""
    predictions = forecasts_by_step(model, test, table, prep, steps)
    by_step = score_by_step(predictions, table, prep.target)
    seeds = {str(seed): by_step[min(by_step)]}
    for name, other in seeded.items():
        scored = score_by_step(
            forecasts_by_step(other, test, table, prep, steps), table, prep.target
        )
        seeds[name] = scored[min(by_step)]
    return Evaluation(predictions, by_step, seeds)
