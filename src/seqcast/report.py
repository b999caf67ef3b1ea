"""The comparison report: a leaderboard of every model on the same test targets."""

from typing import Any

import pandas as pd

COLUMNS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "mape": "MAPE %",
    "r2": "R²",
    "mase": "MASE",
    "skill_vs_naive": "skill vs naive",
}


def leaderboard(metrics: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per model, best RMSE first; ties keep the order of models.enabled."""
    table = pd.DataFrame.from_dict(metrics, orient="index")[list(COLUMNS)]
    return table.sort_values("rmse", kind="stable")


def _markdown_table(table: pd.DataFrame) -> str:
    header = "| rank | model | " + " | ".join(COLUMNS.values()) + " |"
    rule = "|---:|:---|" + "---:|" * len(COLUMNS)
    rows = [
        f"| {rank} | {name} | " + " | ".join(f"{row[key]:.4g}" for key in COLUMNS) + " |"
        for rank, (name, row) in enumerate(table.iterrows(), start=1)
    ]
    return "\n".join([header, rule, *rows])


def verdict(table: pd.DataFrame) -> str:
    contenders = table.drop(index="naive", errors="ignore")
    winners = contenders[contenders["skill_vs_naive"] > 0]
    if winners.empty:
        return (
            "**No model beats the naive forecast** (tomorrow = today) on RMSE over the test "
            "split. On daily prices this is the common, honest outcome: the last price already "
            "holds most of what the past can say about the next one."
        )
    best = winners["skill_vs_naive"].idxmax()
    return (
        f"**{len(winners)} of {len(contenders)} models beat the naive forecast on RMSE**; "
        f"the best, {best}, by a skill of {winners.loc[best, 'skill_vs_naive']:.3g} "
        "(1 - RMSE / RMSE_naive). "
        "A small skill on one test split is not evidence of a real edge: check it across "
        "seeds and periods before trusting it."
    )


def range_note(train_values: pd.Series, test_values: pd.Series) -> str:
    """Say so when test targets leave the training range, which networks cannot extrapolate."""
    low, high = train_values.min(), train_values.max()
    outside = float(((test_values < low) | (test_values > high)).mean())
    if outside == 0:
        return ""
    return (
        f"{outside:.0%} of the test targets ({test_values.min():.4g} to {test_values.max():.4g}) "
        f"lie outside the training range ({low:.4g} to {high:.4g}). Models of the price level "
        "whose activations saturate (tanh / sigmoid networks) cannot forecast beyond the range "
        "they were fit on; the naive and linear baselines can. Differenced or log-return "
        "targets remove this limit."
    )


def noise_floor_note(
    floor: float,
    why: str,
    series: str,
    horizon: int,
    oracle_rmse: float,
    metrics: dict[str, dict[str, float]],
) -> str:
    """How close the best model gets to the best RMSE that any forecaster can expect."""
    table = leaderboard(metrics)
    best, rmse = table.index[0], table["rmse"].iloc[0]
    ratio = f" ({rmse / oracle_rmse:.3g} x the oracle's)" if oracle_rmse > 0 else ""
    return (
        f"Noise floor: {floor:.4g}, the best RMSE any model can expect {horizon} step(s) ahead "
        f"on the synthetic series {series} ({why}). On these test targets the oracle forecast, "
        f"which knows how the series was made, has RMSE {oracle_rmse:.4g} (the floor up to "
        f"the luck of a finite sample); the best model here, {best}, has RMSE {rmse:.4g}"
        f"{ratio}."
    )


def comparison_markdown(
    metrics: dict[str, dict[str, float]], context: dict[str, Any], figures: dict[str, str]
) -> str:
    table = leaderboard(metrics)
    lines = [
        f"# seqcast: {context['ticker']} {context['target']}, {context['horizon']}-step-ahead "
        "forecasts",
        "",
        f"Test split: {context['test_start']} to {context['test_end']}, "
        f"{context['n_targets']} targets, the same for every model. Training: "
        f"{context['train_start']} to {context['train_end']}; validation (early stopping): "
        f"{context['val_start']} to {context['val_end']}. Errors are in price units.",
        "",
        "## Leaderboard",
        "",
        _markdown_table(table),
        "",
        verdict(table),
        "",
        *([context["range_note"], ""] if context.get("range_note") else []),
        *([context["noise_floor_note"], ""] if context.get("noise_floor_note") else []),
        "MASE divides MAE by the in-sample MAE of the one-step naive forecast on the training "
        "split; skill vs naive is 1 - RMSE / RMSE_naive on the test targets (0: as good as "
        "naive, above 0: better).",
        "",
    ]
    for title, path in figures.items():
        lines += [f"## {title}", "", f"![{title}]({path})", ""]
    lines += [
        "Regenerate with `dvc repro`; every number here comes from `params.yaml` and the "
        "committed code. Each model's run, with its parameters and artifacts, is in MLflow "
        f"(experiment `{context['experiment']}`).",
        "",
    ]
    return "\n".join(lines)
