"""The tables behind `dvc plots` and the gate: long-format CSV that DVC renders and diffs.

The compare stage writes reports/predictions.csv (the first-step test predictions of every
model: the forecasts-against-actuals plot, and what the metric gate pairs with a later
run's for its Diebold-Mariano test) and, under reports/plots/, error_by_step.csv and
loss.csv. One row per model and x value, with a `model` column: the templates in
.dvc/plots/ colour by model and dash by experiment, so any set of models.enabled plots.
"""

from pathlib import Path

import pandas as pd

from seqcast import atomic

FLOAT_FORMAT = "%.6f"


def predictions_table(first_step: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """model, date, actual, predicted: one row per model and test target, by model."""
    rows = [
        predictions[["actual", "predicted"]].rename_axis("date").reset_index().assign(model=name)
        for name, predictions in first_step.items()
    ]
    return pd.concat(rows)[["model", "date", "actual", "predicted"]]


def error_by_step_table(rmse_by_step: pd.DataFrame) -> pd.DataFrame:
    """model, step, rmse: the test RMSE of forecasts that many steps ahead. `rmse_by_step`
    has models as rows and steps as columns."""
    table = rmse_by_step.rename_axis(index="model", columns="step").stack()
    return table.rename("rmse").reset_index()


def loss_table(histories: dict[str, dict]) -> pd.DataFrame:
    """model, epoch, train_loss, val_loss of every network's training."""
    rows = [
        pd.DataFrame(
            {
                "model": name,
                "epoch": range(1, len(history["train_loss"]) + 1),
                "train_loss": history["train_loss"],
                # none without a validation block (split.val = 0)
                "val_loss": history["val_loss"] or [float("nan")] * len(history["train_loss"]),
            }
        )
        for name, history in histories.items()
    ]
    columns = ["model", "epoch", "train_loss", "val_loss"]
    return pd.concat(rows) if rows else pd.DataFrame(columns=columns)


def _to_csv(table: pd.DataFrame, path: Path, float_format: str = FLOAT_FORMAT) -> None:
    table.to_csv(path, index=False, date_format="%Y-%m-%d", float_format=float_format)


def write_predictions(path: str | Path, first_step: dict[str, pd.DataFrame]) -> None:
    table = predictions_table(first_step)
    atomic.write_with(path, lambda tmp: _to_csv(table, tmp))


def write_plot_tables(
    directory: str | Path, rmse_by_step: pd.DataFrame, histories: dict[str, dict]
) -> None:
    """error_by_step.csv and loss.csv, replacing the folder whole."""
    with atomic.atomic_dir(directory) as tmp:
        _to_csv(error_by_step_table(rmse_by_step), Path(tmp) / "error_by_step.csv")
        _to_csv(loss_table(histories), Path(tmp) / "loss.csv", float_format="%.8g")
