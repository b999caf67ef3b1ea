"""The tables behind `dvc plots` and the gate: long format, one row per model and x value."""

import numpy as np
import pandas as pd

from seqcast.reporting import plot_data


def _first_step() -> dict[str, pd.DataFrame]:
    dates = pd.bdate_range("2024-01-01", periods=4, name="date")
    actual = np.array([10.0, 11.0, 12.0, 11.5])
    return {
        "naive": pd.DataFrame({"actual": actual, "predicted": [9.5, 10.0, 11.0, 12.0]}, dates),
        "lstm": pd.DataFrame({"actual": actual, "predicted": [9.8, 10.9, 11.7, 11.9]}, dates),
    }


def test_predictions_keep_each_forecast_beside_its_target_date_and_actual(tmp_path):
    plot_data.write_predictions(tmp_path / "predictions.csv", _first_step())
    table = pd.read_csv(tmp_path / "predictions.csv")
    assert list(table.columns) == ["model", "date", "actual", "predicted"]
    assert table["model"].tolist() == ["naive"] * 4 + ["lstm"] * 4
    lstm = table[table["model"] == "lstm"].set_index("date")
    assert lstm.loc["2024-01-03", "actual"] == 12.0
    assert lstm.loc["2024-01-03", "predicted"] == 11.7


def test_error_by_step_and_losses_of_networks_that_stopped_at_different_epochs(tmp_path):
    rmse = pd.DataFrame({1: [1.0, 0.9], 2: [1.5, 1.4]}, index=["naive", "lstm"])
    histories = {
        "lstm": {"train_loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.8], "best_epoch": 2},
        "gru": {"train_loss": [1.0], "val_loss": [1.2], "best_epoch": 1},
    }
    plot_data.write_plot_tables(tmp_path / "plots", rmse, histories)
    by_step = pd.read_csv(tmp_path / "plots/error_by_step.csv")
    assert by_step.to_dict("records") == [
        {"model": "naive", "step": 1, "rmse": 1.0},
        {"model": "naive", "step": 2, "rmse": 1.5},
        {"model": "lstm", "step": 1, "rmse": 0.9},
        {"model": "lstm", "step": 2, "rmse": 1.4},
    ]
    loss = pd.read_csv(tmp_path / "plots/loss.csv")
    assert loss[loss["model"] == "lstm"]["epoch"].tolist() == [1, 2, 3]
    assert loss[loss["model"] == "gru"]["val_loss"].tolist() == [1.2]
    assert not loss.isna().any().any()


def test_without_networks_the_loss_table_has_its_header_only(tmp_path):
    plot_data.write_plot_tables(tmp_path / "plots", pd.DataFrame({1: [1.0]}, ["naive"]), {})
    assert (tmp_path / "plots/loss.csv").read_text().strip() == "model,epoch,train_loss,val_loss"
