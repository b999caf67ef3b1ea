"""Figures for the reports: forecasts against actual prices, and training curves."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import ScalarFormatter

from seqcast import atomic

# No timestamp or version in the file, so that identical inputs give identical bytes.
PNG_METADATA = {"Software": None}
HISTORY_DAYS = 120  # observed days a forecast figure shows before its first forecast


def history_before(prices: pd.Series, first: pd.Timestamp) -> pd.Series:
    """The last HISTORY_DAYS observed prices before `first`."""
    return prices.loc[prices.index < first].iloc[-HISTORY_DAYS:]


def _save(fig: plt.Figure, path: str | Path) -> None:
    fig.tight_layout()
    atomic.write_with(
        path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, metadata=PNG_METADATA)
    )
    plt.close(fig)


def forecast_figure(
    history: pd.Series,
    actual: pd.Series,
    predictions: dict[str, pd.Series],
    title: str,
    path: str | Path,
) -> None:
    """Recent history before the test start, then actual and predicted test values."""
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.plot(history.index, history.to_numpy(), color="0.6", lw=1.2, label="history (before test)")
    ax.plot(actual.index, actual.to_numpy(), color="black", lw=1.4, label="actual")
    for name, series in predictions.items():
        ax.plot(series.index, series.to_numpy(), lw=1.0, alpha=0.85, label=name)
    ax.axvline(actual.index[0], color="0.3", ls=":", lw=1)
    ax.set_title(title)
    ax.set_ylabel("price")
    ax.legend(loc="best", fontsize=8, ncols=2)
    ax.grid(alpha=0.3)
    _save(fig, path)


def loss_figure(histories: dict[str, dict], path: str | Path) -> None:
    """Training (solid) and validation (dashed) loss per epoch, one colour per model."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for index, (name, history) in enumerate(histories.items()):
        color = f"C{index}"
        epochs = np.arange(1, len(history["train_loss"]) + 1)
        ax.plot(epochs, history["train_loss"], color=color, lw=1.2, label=f"{name} train")
        if not history["val_loss"]:  # no validation block: a fixed epoch count
            continue
        ax.plot(epochs, history["val_loss"], color=color, lw=1.2, ls="--", label=f"{name} val")
        ax.plot(
            history["best_epoch"],
            history["val_loss"][history["best_epoch"] - 1],
            "o",
            color=color,
            ms=5,
        )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE on scaled target (log)")
    ax.set_title("Training and validation loss (dot: restored best epoch)")
    ax.legend(fontsize=8, ncols=2)
    ax.grid(alpha=0.3, which="both")
    _save(fig, path)


def gate_figure(
    layers: list[dict[str, np.ndarray]], names: dict[str, str], title: str, path: str | Path
) -> None:
    """Heatmaps of each gate (hidden unit x time step), one row of panels per layer.

    `layers[k][gate]` is (window, hidden) and `names[gate]` its label. Sigmoid gates are
    drawn on [0, 1], the tanh candidates (LSTM g, GRU n) on [-1, 1].
    """
    gates = list(layers[0])
    steps, hidden = layers[0][gates[0]].shape
    fig, axes = plt.subplots(
        len(layers),
        len(gates),
        figsize=(3.2 * len(gates) + 1, 0.12 * hidden * len(layers) + 1.6),
        squeeze=False,
    )
    ticks = np.arange(steps - 1, -1, -max(1, -(-steps // 5)))[::-1]  # ..., t-4, t
    for row, layer in enumerate(layers):
        for col, gate in enumerate(gates):
            ax = axes[row, col]
            signed = gate in ("g", "n")
            image = ax.imshow(
                layer[gate].T,  # (hidden, window)
                aspect="auto",
                interpolation="nearest",
                cmap="RdBu_r" if signed else "viridis",
                vmin=-1.0 if signed else 0.0,
                vmax=1.0,
            )
            fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
            ax.set_title(f"layer {row}: {names[gate]} ({gate})", fontsize=9)
            ax.set_xticks(ticks, [f"t{t - steps + 1}" if t < steps - 1 else "t" for t in ticks])
            ax.set_xlabel("time step in window", fontsize=8)
            if col == 0:
                ax.set_ylabel("hidden unit", fontsize=8)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def per_step_figure(rmse: pd.DataFrame, path: str | Path) -> None:
    """RMSE against the forecast step, one line per model (rows: models, columns: steps)."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    steps = [int(step) for step in rmse.columns]
    for index, (name, row) in enumerate(rmse.iterrows()):
        style = {"color": "black", "lw": 2.0} if name == "naive" else {"color": f"C{index}"}
        ax.plot(steps, row.to_numpy(), marker="o", ms=4, label=name, **style)
    ax.set_xticks(steps)
    ax.set_xlabel("forecast step (trading days after the origin)")
    ax.set_ylabel("RMSE (price units)")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.set_title("Test error by forecast step")
    ax.legend(fontsize=8, ncols=2)
    ax.grid(alpha=0.3, which="both")
    _save(fig, path)


def future_forecast_figure(
    history: pd.Series, forecast: pd.DataFrame, model: str, title: str, path: str | Path
) -> None:
    """Recent observed prices, then the recursive forecast past the last observed date,
    with its prediction bands (lower_80 / upper_80, ... columns) if it has any."""
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.plot(history.index, history.to_numpy(), color="black", lw=1.3, label="observed")
    # Joined to the last observation, so the line and bands start where the data end.
    start = pd.Series([history.iloc[-1]], index=history.index[-1:])
    levels = sorted(
        (int(c.removeprefix("lower_")) for c in forecast.columns if c.startswith("lower_")),
        reverse=True,
    )
    for level, alpha in zip(levels, (0.15, 0.3, 0.45), strict=False):
        lower = pd.concat([start, forecast[f"lower_{level}"]])
        upper = pd.concat([start, forecast[f"upper_{level}"]])
        ax.fill_between(
            lower.index, lower.to_numpy(), upper.to_numpy(), color="C3", alpha=alpha, lw=0,
            label=f"{level}% prediction interval (conformal)",
        )  # fmt: skip
    joined = pd.concat([start, forecast["forecast"]])
    ax.plot(
        joined.index,
        joined.to_numpy(),
        color="C3",
        lw=1.4,
        ls="--",
        marker="o",
        ms=3,
        label=f"recursive forecast ({model}): each day fed back as input",
    )
    ax.axvline(history.index[-1], color="0.3", ls=":", lw=1)
    ax.annotate(
        "last observed",
        (history.index[-1], history.iloc[-1]),
        fontsize=8,
        xytext=(-70, 20),
        textcoords="offset points",
    )
    ax.set_title(title)
    ax.set_ylabel("price")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)
