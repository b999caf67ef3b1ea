"""What a sweep found: per ticker and model, the best config against naive.

The best config has the lowest RMSE averaged over its units (seeds and folds). Whether it
beats naive beyond the noise: a one-sided Diebold-Mariano test of its squared errors
(averaged over the seeds, day by day, over every fold's test days) against naive's on
the same days, its p-value multiplied by the number of configs tried (Bonferroni: the
best of many configs beats naive on these days by luck more often than one would).
"""

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from seqcast.scoring.significance import diebold_mariano

HEADLINE = ("rmse", "mae", "skill_vs_naive")


def _mean_std(values: pd.Series) -> dict[str, float]:
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "std": 0.0 if values.nunique() == 1 else std}


def daily_losses(units: pd.DataFrame) -> pd.DataFrame:
    """Squared errors of the model and of naive per test day, averaged over seeds."""
    frames = [
        pd.DataFrame(
            {
                "date": row.dates,
                "model": (np.asarray(row.predicted) - np.asarray(row.actual)) ** 2,
                "naive": (np.asarray(row.naive) - np.asarray(row.actual)) ** 2,
            }
        )
        for row in units.itertuples()
    ]
    return pd.concat(frames).groupby("date", sort=True).mean()


def against_naive(units: pd.DataFrame, configs_tried: int) -> dict[str, Any]:
    losses = daily_losses(units)
    dm = diebold_mariano(losses["model"].to_numpy(), losses["naive"].to_numpy())
    p = None if math.isnan(dm.p_better) else dm.p_better
    adjusted = None if p is None else min(1.0, p * configs_tried)
    naive = [np.sqrt(np.mean((np.subtract(r.naive, r.actual)) ** 2)) for r in units.itertuples()]
    return {
        "days": len(losses),
        "naive_rmse": float(np.mean(naive)),  # averaged over the units, as the model's rmse
        "p_better_than_naive": p,
        "p_adjusted": adjusted,
    }


def summarize(table: pd.DataFrame, significance: float) -> dict[str, Any]:
    """reports/sweep.json: per ticker and model, every config's mean RMSE, and the best's
    metrics (mean and spread over seeds and folds) and its test against naive."""
    tickers: dict[str, Any] = {}
    for (ticker, model), rows in table.groupby(["ticker", "model"], sort=True):
        # each config's mean RMSE over its units, summed as _mean_std sums the best's
        means = {c: float(r["rmse"].mean()) for c, r in rows.groupby("config", sort=True)}
        sizes = rows.groupby("config").size()
        ranked = sorted(means, key=means.__getitem__)  # stable: ties in config order
        best = ranked[0]
        units = rows[rows["config"] == best]
        test = against_naive(units, len(means))
        beats = model != "naive" and test["p_adjusted"] is not None
        beats = beats and test["p_adjusted"] < significance
        tickers.setdefault(ticker, {})[model] = {
            "best": json.loads(best),
            "units": len(units),
            **{metric: _mean_std(units[metric]) for metric in HEADLINE},
            **test,
            "beats_naive": bool(beats),
            "configs": [
                {"config": json.loads(c), "rmse": means[c], "units": int(sizes[c])} for c in ranked
            ],
        }
    return {
        "units": len(table),
        "significance": significance,
        "folds": sorted(table["origin"].unique().tolist()),
        "seeds": sorted(int(s) for s in table["seed"].unique()),
        "tickers": tickers,
    }


def headline_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The parent run's metrics: <ticker>.<model>.rmse and .p_adjusted of each best config."""
    flat = {}
    for ticker, models in summary["tickers"].items():
        for model, best in models.items():
            flat[f"{ticker}.{model}.rmse"] = best["rmse"]["mean"]
            if best["p_adjusted"] is not None:
                flat[f"{ticker}.{model}.p_adjusted"] = best["p_adjusted"]
    return flat


def text_table(summary: dict[str, Any]) -> str:
    """The summary as a plain-text table, for the terminal."""
    lines = [
        f"{'ticker':<8} {'model':<8} {'best config':<34} {'units':>5} {'rmse':>17} "
        f"{'naive':>8} {'skill':>7} {'p adj':>6}  beats naive"
    ]
    for ticker, models in summary["tickers"].items():
        for model, b in models.items():
            config = json.dumps(b["best"], sort_keys=True).strip("{}").replace('"', "")
            rmse = f"{b['rmse']['mean']:.4f} ± {b['rmse']['std']:.4f}"
            p = "" if b["p_adjusted"] is None else f"{b['p_adjusted']:.3f}"
            verdict = "reference" if model == "naive" else ("yes" if b["beats_naive"] else "no")
            lines.append(
                f"{ticker:<8} {model:<8} {config or 'defaults':<34} {b['units']:>5} {rmse:>17} "
                f"{b['naive_rmse']:>8.4f} {b['skill_vs_naive']['mean']:>7.4f} {p:>6}  {verdict}"
            )
    return "\n".join(lines)
