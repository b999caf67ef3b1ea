"""The comparison report: a leaderboard of every model on the same test targets."""

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from seqcast.scoring.metrics import METRICS, RANKING_METRIC
from seqcast.scoring.significance import holm_adjust

# The ranking metric first, then the others of the metric table, then the test against naive.
COLUMNS = {
    RANKING_METRIC: METRICS[RANKING_METRIC].label,
    **{name: m.label for name, m in METRICS.items() if name != RANKING_METRIC},
    "dm_statistic": "DM",
    "dm_p_better": "p (better than naive)",
    "dm_p_better_holm": "p (Holm)",
}
P_COLUMNS = ("dm_p_better", "dm_p_better_holm")
# Family-wise significance level of the Diebold-Mariano verdicts, after Holm's correction.
ALPHA = 0.05
# Report values are ratios or prices; one this close to 0 is floating-point residue, such as
# 1 - x / y of two RMSEs that differ only by rounding, and prints as 0.
ZERO = 1e-12


def _cell(value: float, spec: str = ".4g") -> str:
    if math.isnan(value):
        return "n/a"
    return format(0.0 if abs(value) < ZERO else value, spec)


def _p_cell(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _p_quote(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3g}"


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _models(count: int) -> str:
    return f"{count} model{'' if count == 1 else 's'}"


def holm_against_naive(p_better: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Holm-adjusted p-values of "better than naive" and "worse than naive", across models.

    `p_better`: each model's one-sided p-value of "more accurate than naive", indexed by
    model. The family is every model but naive itself; naive's adjusted p-values are NaN.
    """
    tested = p_better.drop(index="naive", errors="ignore")
    # The t distribution is continuous: the other one-sided p-value is 1 - p.
    better, worse = holm_adjust(tested.to_dict()), holm_adjust((1 - tested).to_dict())
    return (
        pd.Series(better, dtype="float64").reindex(p_better.index),
        pd.Series(worse, dtype="float64").reindex(p_better.index),
    )


def leaderboard(metrics: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per model, best RMSE first; ties keep the order of models.enabled.

    Beside the metrics: dm_p_better_holm and dm_p_worse_holm, the Holm-adjusted p-values
    of "better than naive" and "worse than naive" across the models tested against naive.
    """
    table = pd.DataFrame.from_dict(metrics, orient="index")[
        [key for key in COLUMNS if key != "dm_p_better_holm"]
    ]
    table["dm_p_better_holm"], table["dm_p_worse_holm"] = holm_against_naive(table["dm_p_better"])
    return table.sort_values(RANKING_METRIC, kind="stable")


def tested_count(table: pd.DataFrame) -> int:
    """How many models the Holm correction counts: those with a defined test against naive."""
    return int(table["dm_p_better_holm"].notna().sum())


def _markdown_table(table: pd.DataFrame) -> str:
    header = "| rank | model | " + " | ".join(COLUMNS.values()) + " |"
    rule = "|---:|:---|" + "---:|" * len(COLUMNS)
    rows = [
        f"| {rank} | {name} | "
        + " | ".join((_p_cell if key in P_COLUMNS else _cell)(row[key]) for key in COLUMNS)
        + " |"
        for rank, (name, row) in enumerate(table.iterrows(), start=1)
    ]
    return "\n".join([header, rule, *rows])


def verdict(table: pd.DataFrame) -> str:
    """Plain sentences on whether any model beats the naive forecast, or loses to it, and how
    surely: `table` is a leaderboard, and its Holm-adjusted p-values decide."""
    contenders = table.drop(index="naive", errors="ignore")
    tested = _models(tested_count(table))
    across = f"Holm-adjusted across the {tested} tested"
    significant = contenders[contenders["dm_p_better_holm"] < ALPHA]
    if significant.empty:
        lower = contenders[contenders["skill_vs_naive"] > 0]
        closer = (
            f" {', '.join(lower.index)} {'has' if len(lower) == 1 else 'have'} a lower RMSE "
            f"than naive on this test split (best skill "
            f"{lower['skill_vs_naive'].max():.3g}), but by no more than chance gives."
            if not lower.empty
            else ""
        )
        alone = contenders[contenders["dm_p_better"] < ALPHA]
        uncorrected = (
            f" {_names(list(alone.index))} {'passes' if len(alone) == 1 else 'pass'} "
            f"p < {ALPHA:g} alone, but not once the p-value is corrected for testing {tested}."
            if not alone.empty
            else ""
        )
        beats = (
            "**No model beats the naive forecast significantly** (tomorrow = today): no "
            "Diebold-Mariano test of a model's squared errors against the naive forecast's "
            f"gives p < {ALPHA:g}, {across}.{closer}{uncorrected} On daily prices this is the "
            "common, honest outcome: the last price already holds most of what the past can "
            "say about the next one."
        )
    else:
        best = significant["skill_vs_naive"].idxmax()
        beats = (
            f"**{len(significant)} of {len(contenders)} models beat the naive forecast "
            f"significantly** (Diebold-Mariano, p < {ALPHA:g}, {across}); the best, {best}, by "
            f"a skill of {_cell(significant.loc[best, 'skill_vs_naive'], '.3g')} (1 - RMSE / "
            f"RMSE_naive, p = {significant.loc[best, 'dm_p_better']:.3g}, Holm-adjusted "
            f"{significant.loc[best, 'dm_p_better_holm']:.3g}). A significant edge on one test "
            "period is not yet a lasting one: check it across seeds and walk-forward folds "
            "before trusting it."
        )
    worse = contenders[contenders["dm_p_worse_holm"] < ALPHA]
    if worse.empty:
        return beats
    quoted = ", ".join(f"{name} {_p_quote(p)}" for name, p in worse["dm_p_worse_holm"].items())
    return (
        f"{beats} {_names(list(worse.index))} {'is' if len(worse) == 1 else 'are'} "
        'significantly worse than the naive forecast (Diebold-Mariano test of "less accurate '
        f'than naive", {across}: {quoted}).'
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
    tested = _models(tested_count(table))
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
        "accurate than naive\", from Student's t with n - 1 degrees of freedom. p (Holm) is "
        f"that p-value adjusted by Holm's step-down method across the {tested} tested "
        "against naive, which holds the chance of calling any of them better by luck to "
        f'{ALPHA:g}; the verdict uses it, and for "worse than naive" the other one-sided '
        "p-value, 1 - p, adjusted the same way.",
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
    """RMSE and Diebold-Mariano p-values per forecast step (rows: models, columns: steps).

    The verdicts of each step are Holm-corrected across the models tested on that step.
    """

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

    def passing(adjusted: pd.DataFrame) -> list[str]:
        return [
            f"{name} on day {step}"
            for name, row in adjusted.iterrows()
            for step, p in row.items()
            if p < ALPHA
        ]

    adjusted = {step: holm_against_naive(p_better[step]) for step in p_better.columns}
    better = pd.DataFrame({step: b for step, (b, _) in adjusted.items()})
    worse = pd.DataFrame({step: w for step, (_, w) in adjusted.items()})
    counts = set(better.notna().sum())
    family = f"the {_models(counts.pop())}" if len(counts) == 1 else "the models"
    across = f"Holm-adjusted p < {ALPHA:g} across {family} tested on each day"
    better_on, worse_on = passing(better), passing(worse)
    if better_on:
        finding = f"Significantly better than naive ({across}): {', '.join(better_on)}."
    else:
        finding = f"No model beats the naive forecast significantly on any day ({across})."
    if worse_on:
        finding += (
            ' Significantly worse than naive (the same correction of the p-value of "less '
            f'accurate than naive"): {", ".join(worse_on)}.'
        )
    if (better_on or worse_on) and len(p_better.columns) > 1:
        finding += (
            f" The correction holds the chance of a false claim to {ALPHA:g} on each day, not "
            f"across all {len(p_better.columns)} days."
        )
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
            *table(better, "p (Holm)", _p_cell),
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
    if not per_fold:
        return f"## Walk-forward backtest\n\n{settings}\n"
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


def sweep_section(sweep: dict[str, Any]) -> str:
    """The sweep stage's finding (reports/sweep.json): per ticker and model, the best config
    and whether it beats naive beyond the noise."""
    if not sweep.get("tickers"):
        return "## Sweep\n\nNo sweep results.\n"
    folds, seeds = sweep["folds"], sweep["seeds"]
    lines = [
        "## Sweep",
        "",
        f"{sweep['units']} units: every config of `sweep.space` on each ticker, with seeds "
        f"{', '.join(map(str, seeds))} and walk-forward folds {', '.join(folds)} "
        "(`seqcast sweep` reruns it; docs/sweeps.md). The best config has the lowest mean "
        "RMSE over its seeds and folds. It beats naive beyond the noise when its one-sided "
        "Diebold-Mariano p-value, times the configs tried, is below "
        f"{sweep['significance']:g}.",
        "",
        "| ticker | model | best config | configs | RMSE mean ± sd | naive RMSE | skill | "
        "p (adjusted) | beats naive |",
        "|:---|:---|:---|---:|---:|---:|---:|---:|:---|",
    ]
    beating = []
    for ticker, models in sweep["tickers"].items():
        for model, b in models.items():
            config = ", ".join(f"{k} {v}" for k, v in b["best"].items()) or "defaults"
            verdict = "reference" if model == "naive" else ("yes" if b["beats_naive"] else "no")
            if b["beats_naive"]:
                beating.append(f"{model} on {ticker}")
            p = "" if b["p_adjusted"] is None else _p_cell(b["p_adjusted"])
            lines.append(
                f"| {ticker} | {model} | {config} | {len(b['configs'])} "
                f"| {b['rmse']['mean']:.4g} ± {b['rmse']['std']:.2g} | {b['naive_rmse']:.4g} "
                f"| {b['skill_vs_naive']['mean']:.3g} | {p} | {verdict} |"
            )
    found = (
        f"Beyond the noise: {_names(beating)}."
        if beating
        else "No best config beats naive beyond the noise on these folds."
    )
    return "\n".join([*lines, "", found, ""])


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
            f"{max(rmse):.4g} | {_cell(mean['skill_vs_naive'], '.3g')} ± "
            f"{_cell(std['skill_vs_naive'], '.2g')} |"
        )
    lines += [
        "",
        "Two models whose RMSEs differ by less than their seed spreads cannot be told apart "
        "by this test split: the difference may be the luck of the initial weights.",
        "",
    ]
    return "\n".join(lines)


def _coverage(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def intervals_section(
    test: dict[str, dict[str, Any]], folds: dict[str, dict[str, dict[str, Any]]]
) -> str:
    """Coverage of the conformal intervals beside their nominal levels: on the test split
    for every model, and in every walk-forward fold for the backtested ones.

    test: model -> intervals.json (calibration, test); folds: model -> origin -> the same.
    """
    first = next(iter(test.values()))
    calibration = first["calibration"]
    levels = list(calibration["half_widths"])
    steps = len(calibration["errors_per_step"])
    sizes = calibration["errors_per_step"]
    relative = calibration["errors"] == "relative"
    named = " and ".join(f"{lv}%" for lv in levels)
    errors = "log(actual / forecast)" if relative else "actual - forecast, in price units"
    width = "mean half-width, % of forecast" if relative else "mean half-width"
    lines = [
        "## Prediction intervals",
        "",
        f"Every forecast of 1 to {steps} business days carries {named} intervals: split "
        f"conformal on each step's errors, {errors}, on the validation split "
        f"({sizes[0]} origins at step 1, {sizes[-1]} at step {steps}), which the model never "
        "trained on. Coverage is the share of the test split's (origin, step) pairs whose "
        "actual price fell inside the interval; it should sit near the nominal level.",
        "",
        "| model | "
        + " | ".join(f"{lv}% coverage | {lv}% {width}" for lv in levels)
        + " | pairs |",
        "|:---|" + "---:|" * (2 * len(levels) + 1),
    ]
    low = []
    for name, report in test.items():
        cells = []
        for level in levels:
            scored = report["test"][level]
            half = scored["mean_half_width"]
            shown = f"±{math.expm1(half):.2%}" if relative else _cell(half)
            cells += [_coverage(scored["coverage"]), shown]
            if scored["coverage"] is not None and scored["coverage"] < scored["nominal"] - 0.05:
                low.append(f"{name} ({level}%: {scored['coverage']:.1%})")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {report['test']['pairs']} |")
    lines.append("")
    if low:
        lines += [
            f"Below nominal by more than 5 points: {_names(low)}. The test days moved more "
            + ("in percent " if relative else "in price units ")
            + "than the validation days did, so their errors outgrew the intervals.",
            "",
        ]
    if folds:
        origins = list(next(iter(folds.values())))
        lines += [
            "In the walk-forward folds, each calibrated on its own validation block and "
            "scored on its own test block:",
            "",
            "| model | "
            + " | ".join(f"{lv}%, origin {o}" for o in origins for lv in levels)
            + " |",
            "|:---|" + "---:|" * (len(origins) * len(levels)),
        ]
        for name, by_origin in folds.items():
            cells = [
                _coverage(by_origin[o]["test"][lv]["coverage"]) for o in origins for lv in levels
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def selection_note(summary: dict[str, Any], metrics: dict[str, dict[str, float]]) -> str:
    """How the model chosen on validation fared on the test split against the best there.

    A choice on validation cannot see the test split, so it may miss the model that turns
    out best there; this says by how much, which is the price of choosing honestly."""
    chosen = summary["model"]
    if "significance" not in summary or chosen not in metrics:  # not chosen on validation
        return ""
    if chosen == "naive":
        how = "significantly " if summary["significance"] is not None else ""
        return f"No model beat naive {how}on validation, so naive was selected."
    scores = {name: m["rmse"] for name, m in metrics.items()}
    best = min(scores, key=scores.__getitem__)
    mine = scores[chosen]
    if best == chosen:
        return f"{chosen}, selected on validation, also has the lowest test RMSE ({mine:.4g})."
    return (
        f"{chosen}, selected on validation, has a test RMSE of {mine:.4g}; the lowest is "
        f"{best}'s {scores[best]:.4g}, so the selection lies {mine / scores[best] - 1:.1%} "
        "above the best test score, which no choice made before the test split could know."
    )


def forecast_section(
    frame: pd.DataFrame,
    summary: dict[str, Any],
    figure: str,
    ticker: str,
    metrics: dict[str, dict[str, float]] | None = None,
) -> str:
    """The forecast past the last observed date, with its bands, at a few steps, and how
    the selected model fared on the test split (`metrics`: each model's test metrics)."""
    days = len(frame)
    shown = sorted({1, 5, 10, days} & set(range(1, days + 1)))
    levels = [c.removeprefix("lower_") for c in frame.columns if c.startswith("lower_")]
    lines = [
        "## Forecast past the last observed date",
        "",
        f"{summary['model']} ({summary['chosen_by']}) forecasts {ticker} {days} business days "
        f"after {summary['last_observed_date']}, when it closed at "
        f"{summary['last_observed_price']:.4g}; each day is fed back as input for the next.",
        "",
        *([note, ""] if (note := selection_note(summary, metrics or {})) else []),
        "| day | date | forecast | " + " | ".join(f"{lv}% interval" for lv in levels) + " |",
        "|---:|:---|---:|" + "---:|" * len(levels),
    ]
    for step in shown:
        row = frame[frame["step"] == step].iloc[0]
        date = frame.index[frame["step"] == step][0].strftime("%Y-%m-%d")
        bands = [f"{row[f'lower_{lv}']:.2f} .. {row[f'upper_{lv}']:.2f}" for lv in levels]
        lines.append(f"| {step} | {date} | {row['forecast']:.2f} | " + " | ".join(bands) + " |")
    lines += ["", f"![Forecast past the last observed date]({figure})", ""]
    return "\n".join(lines)
