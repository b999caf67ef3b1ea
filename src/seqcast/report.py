"""The comparison report: a leaderboard of every model on the same test targets."""

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

COLUMNS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "mape": "MAPE %",
    "r2": "R²",
    "mase": "MASE",
    "skill_vs_naive": "skill vs naive",
    "directional_accuracy": "dir. acc.",
    "dm_statistic": "DM",
    "dm_p_better": "p (better than naive)",
}
# Significance level of the Diebold-Mariano tests the verdicts quote.
ALPHA = 0.05


def _cell(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4g}"


def _p_cell(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def leaderboard(metrics: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per model, best RMSE first; ties keep the order of models.enabled."""
    table = pd.DataFrame.from_dict(metrics, orient="index")[list(COLUMNS)]
    return table.sort_values("rmse", kind="stable")


def _markdown_table(table: pd.DataFrame) -> str:
    header = "| rank | model | " + " | ".join(COLUMNS.values()) + " |"
    rule = "|---:|:---|" + "---:|" * len(COLUMNS)
    rows = [
        f"| {rank} | {name} | "
        + " | ".join((_p_cell if key == "dm_p_better" else _cell)(row[key]) for key in COLUMNS)
        + " |"
        for rank, (name, row) in enumerate(table.iterrows(), start=1)
    ]
    return "\n".join([header, rule, *rows])


def verdict(table: pd.DataFrame) -> str:
    """One plain sentence on whether any model beats the naive forecast, and how surely."""
    contenders = table.drop(index="naive", errors="ignore")
    significant = contenders[contenders["dm_p_better"] < ALPHA]
    if significant.empty:
        lower = contenders[contenders["skill_vs_naive"] > 0]
        closer = (
            f" {', '.join(lower.index)} {'has' if len(lower) == 1 else 'have'} a lower RMSE "
            f"than naive on this test split (best skill "
            f"{lower['skill_vs_naive'].max():.3g}), but by no more than chance gives."
            if not lower.empty
            else ""
        )
        return (
            "**No model beats the naive forecast significantly** (tomorrow = today): no "
            "Diebold-Mariano test of a model's squared errors against the naive forecast's "
            f"gives p < {ALPHA:g}.{closer} On daily prices this is the common, honest outcome: "
            "the last price already holds most of what the past can say about the next one."
        )
    best = significant["skill_vs_naive"].idxmax()
    return (
        f"**{len(significant)} of {len(contenders)} models beat the naive forecast "
        f"significantly** (Diebold-Mariano, p < {ALPHA:g}); the best, {best}, by a skill of "
        f"{significant.loc[best, 'skill_vs_naive']:.3g} (1 - RMSE / RMSE_naive, p = "
        f"{significant.loc[best, 'dm_p_better']:.3g}). "
        "A significant edge on one test period is not yet a lasting one: check it across "
        "seeds and walk-forward folds before trusting it."
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
    # The lowest RMSE, ties to the first in models.enabled, as on the leaderboard.
    best = min(metrics, key=lambda name: metrics[name]["rmse"])
    rmse = metrics[best]["rmse"]
    ratio = f" ({rmse / oracle_rmse:.3g} x the oracle's)" if oracle_rmse > 0 else ""
    return (
        f"Noise floor: {floor:.4g}, the best RMSE any model can expect {horizon} step(s) ahead "
        f"on the synthetic series {series} ({why}). On these test targets the oracle forecast, "
        f"which knows how the series was made, has RMSE {oracle_rmse:.4g} (the floor up to "
        f"the luck of a finite sample); the best model here, {best}, has RMSE {rmse:.4g}"
        f"{ratio}."
    )


def comparison_markdown(
    metrics: dict[str, dict[str, float]],
    context: dict[str, Any],
    figures: dict[str, str],
    sections: Sequence[str] = (),
) -> str:
    """The report; `sections` are extra markdown sections placed before the figures."""
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
        "dir. acc. is the share of forecasts whose change from the origin has the sign of the "
        "actual change (the naive forecast predicts no change, so it scores about 0). DM is "
        "the Diebold-Mariano statistic of the model's squared errors against the naive "
        "forecast's, with the Harvey-Leybourne-Newbold small-sample correction (below 0: "
        "the model's errors are smaller); p is its one-sided p-value for \"the model is more "
        "accurate than naive\", from Student's t with n - 1 degrees of freedom.",
        "",
        *sections,
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


def per_step_section(rmse: pd.DataFrame, p_better: pd.DataFrame) -> str:
    """RMSE and Diebold-Mariano p-value per forecast step (rows: models, columns: steps)."""

    def table(values: pd.DataFrame, what: str, cell=_cell) -> list[str]:
        steps = list(values.columns)
        return [
            f"| {what} | " + " | ".join(f"day {step}" for step in steps) + " |",
            "|:---|" + "---:|" * len(steps),
            *(
                f"| {name} | " + " | ".join(cell(row[step]) for step in steps) + " |"
                for name, row in values.iterrows()
            ),
        ]

    significant = [
        f"{name} on day {step}"
        for name, row in p_better.drop(index="naive", errors="ignore").iterrows()
        for step, p in row.items()
        if p < ALPHA
    ]
    if significant:
        finding = (
            f"Significantly better than naive (p < {ALPHA:g}): {', '.join(significant)}. "
            f"With {p_better.size} tests, about {ALPHA * p_better.size:.2g} would pass by "
            "chance alone."
        )
    else:
        finding = f"No model beats the naive forecast significantly (p < {ALPHA:g}) on any day."
    return "\n".join(
        [
            "## Error by forecast step",
            "",
            "Each step's errors are on its own targets: day k is the k-th trading day after "
            "the origin. The Diebold-Mariano test of day k allows for the k - 1 days by which "
            "consecutive k-day forecasts overlap.",
            "",
            *table(rmse, "RMSE"),
            "",
            *table(p_better, "p (better than naive)", _p_cell),
            "",
            finding,
            "",
        ]
    )


def backtest_section(
    per_fold: dict[str, dict[str, dict[str, float]]],
    summary: dict[str, dict[str, dict[str, float]]],
    settings: str,
) -> str:
    """Walk-forward results: each model's RMSE per fold, mean and spread across folds.

    per_fold: model -> origin -> step-1 metrics; summary: model -> mean / std -> metric.
    """
    origins = list(next(iter(per_fold.values())))

    def settled(value: float) -> float:
        # A naive forecast scored against itself differs from 0 only by rounding noise.
        return round(value, 9) + 0.0

    lines = [
        "## Walk-forward backtest",
        "",
        settings,
        "",
        "| model | " + " | ".join(f"RMSE, origin {o}" for o in origins) + " | RMSE mean ± sd "
        "| skill mean ± sd | folds beating naive |",
        "|:---|" + "---:|" * (len(origins) + 3),
    ]
    for name, folds in per_fold.items():
        mean, std = summary[name]["mean"], summary[name]["std"]
        wins = sum(settled(m["skill_vs_naive"]) > 0 for m in folds.values())
        lines.append(
            f"| {name} | "
            + " | ".join(_cell(folds[o]["rmse"]) for o in origins)
            + f" | {mean['rmse']:.4g} ± {std['rmse']:.2g}"
            + f" | {settled(mean['skill_vs_naive']):.3g} ± {settled(std['skill_vs_naive']):.2g}"
            + f" | {wins} of {len(folds)} |"
        )
    lines += [
        "",
        "A model whose skill is above 0 in some folds and below in others has no edge that "
        "this backtest can tell from chance; the spread across folds is the size of a "
        "difference that the test split alone cannot settle.",
        "",
    ]
    return "\n".join(lines)


def seeds_section(summary: dict[str, dict[str, dict[str, float]]], seeds: list[int]) -> str:
    """Each model's step-1 metrics over training seeds: mean, spread and range.

    summary: model -> {"seeds": {seed: metrics}, "mean": {...}, "std": {...}}.
    """
    lines = [
        "## Seed spread",
        "",
        f"Every model trained with {len(seeds)} seeds ({', '.join(map(str, seeds))}); the "
        "leaderboard shows the first. The naive and linear models do not depend on the seed.",
        "",
        "| model | RMSE mean ± sd | RMSE min .. max | skill mean ± sd |",
        "|:---|---:|---:|---:|",
    ]
    for name, runs in summary.items():
        rmse = [m["rmse"] for m in runs["seeds"].values()]
        mean, std = runs["mean"], runs["std"]
        lines.append(
            f"| {name} | {mean['rmse']:.4g} ± {std['rmse']:.2g} | {min(rmse):.4g} .. "
            f"{max(rmse):.4g} | {mean['skill_vs_naive']:.3g} ± {std['skill_vs_naive']:.2g} |"
        )
    lines += [
        "",
        "Two models whose RMSEs differ by less than their seed spreads cannot be told apart "
        "by this test split: the difference may be the luck of the initial weights.",
        "",
    ]
    return "\n".join(lines)
