"""How close every model gets to the noise floor, series by series, over several seeds.

Runs every model on the project's synthetic series (whose noise floor is known) and on
the committed sample tickers, through the library's own functions: the same features,
split, scaler, windows, training, scoring and selection on validation as `dvc repro`,
with params.yaml as committed unless `--set` changes a key:

    python benchmarks/accuracy.py                       # params.yaml, seeds 42 43 44
    python benchmarks/accuracy.py --series noisy_sine --models naive linear lstm \
        --seeds 1 2 3 4 5 --set window.length=30 --set train.max_epochs=50

One row per (series, model), over the seeds (train.seed): the test RMSE of the next-day
forecasts (mean ± standard deviation over seeds), the RMSE over the floor (the realized
floor: the RMSE of the forecast that knows how the series was made, on the same test
days; on a ticker, whose floor is unknown, the naive forecast's RMSE), the smallest
one-sided Diebold-Mariano p-value of "worse than naive" over the seeds, the validation
RMSE, and the fit's CPU seconds. The `selected` row of each series is the model that
`forecast.model` picks (best: on validation), seed by seed. Then the ratios again as one
row per series, and the goals of docs/accuracy.md, each marked met or not.
"""

import argparse
import copy
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from seqcast.data.alignment import ticker_rows
from seqcast.data.features import make_features
from seqcast.data.sources import load_raw
from seqcast.data.sources.synthetic import oracle_forecast
from seqcast.forecasting.selection import choose_model, p_better_than_naive, root_mean_square
from seqcast.jobs.backtest import run_fold
from seqcast.params import ForecastParams, parse_params
from seqcast.prep.splitting import split_table
from seqcast.scoring.metrics import rmse
from seqcast.scoring.significance import against_naive_by_step

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ("noisy_sine", "seasonal_trend", "damped", "random_walk")
TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
MODELS = ("naive", "linear", "rnn", "lstm", "gru")
NETWORKS = ("rnn", "lstm", "gru")
DETERMINISTIC = ("naive", "linear")  # the same fit whatever the seed: run once
# series: (which models, the largest mean RMSE over the floor they may have); the
# random walk's floor is naive's RMSE, and its goal is the selected model's.
GOALS = {"noisy_sine": ("best network", 1.03), "seasonal_trend": ("best network", 1.10)}
RANDOM_WALK_GOAL = 1.01
SIGNIFICANCE = 0.05


def parse_value(text: str) -> object:
    """A --set value as YAML reads it, like `dvc exp run -S`: 30, 0.5, null, [a, b]."""
    return yaml.safe_load(text)


def set_key(raw: dict, assignment: str) -> None:
    key, _, value = assignment.partition("=")
    *path, last = key.split(".")
    node = raw
    for part in path:
        node = node.setdefault(part, {})
    node[last] = parse_value(value)


def series_params(base: dict, series: str, sets: list[str]) -> dict:
    """params.yaml pointed at one sample ticker or one synthetic kind, then `sets` applied."""
    raw = copy.deepcopy(base)
    if series in SYNTHETIC:
        raw["data"].update(source="synthetic", ticker=series, target="value", tickers=[])
        raw["data"]["synthetic"] = {"kind": series, "seed": 0}
        raw["features"]["extra_columns"] = []
        raw["features"]["returns"] = False  # the synthetic series cross zero
    else:
        raw["data"].update(source="sample", ticker=series, tickers=[])
    raw["train"]["threads"] = 1
    for assignment in sets:
        set_key(raw, assignment)
    return raw


def labelled_table(raw_params: dict) -> tuple[pd.DataFrame, dict]:
    """The split feature table of the pipeline for these params, and the source's info."""
    params = parse_params(raw_params)
    data, f = params.data, params.features
    loaded = load_raw(data.source, data.source_config, data.ticker, data.other_tickers)
    table = make_features(
        ticker_rows(loaded.prices, data.ticker), data.target, f.lags, f.rolling_windows, f.returns
    )
    return split_table(table, params.split), loaded.info


@dataclass
class Runs:
    """One model on one series, seed by seed."""

    rmse: list[float] = field(default_factory=list)
    ratio: list[float] = field(default_factory=list)
    p_worse: list[float] = field(default_factory=list)
    val_rmse: list[float] = field(default_factory=list)
    val_errors: list[np.ndarray] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)


def floor_rmse(table: pd.DataFrame, info: dict, first: pd.DataFrame, target: str) -> float:
    """The realized floor on these test days: the oracle's RMSE, or else naive's."""
    actual = table.loc[first.index, target].to_numpy()
    if info.get("noise_floor") is None:
        return rmse(actual, first["naive"].to_numpy())
    oracle = oracle_forecast(info["kind"], info["seed"], first["origin_date"], first.index)
    return rmse(actual, oracle)


def run_model(table: pd.DataFrame, info: dict, raw: dict, model: str, seed: int) -> dict:
    raw = copy.deepcopy(raw)
    raw["train"]["seed"] = seed
    params = parse_params(raw)
    start = time.process_time()
    result = run_fold(table, model, params)
    cpu = time.process_time() - start
    first = result.predictions[result.predictions["step"] == 1]
    actual = table.loc[first.index, params.data.target].to_numpy()
    score = rmse(actual, first["predicted"].to_numpy())
    floor = floor_rmse(table, info, first, params.data.target)
    dm = against_naive_by_step(result.predictions)[1]
    return {
        "rmse": score,
        "ratio": score / floor if floor > 0 else float("nan"),  # a noiseless series: n/a
        "p_worse": float("nan") if model == "naive" else 1.0 - dm.p_better,
        "val_rmse": root_mean_square(result.validation_errors),
        "val_errors": result.validation_errors,
        "cpu_s": cpu,
        "epochs": len(result.history.train_loss),
    }


def mean_sd(values: list[float], digits: int = 3) -> str:
    if np.isnan(values).all():
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def series_rows(
    series: str, runs: dict[str, Runs], seeds: list[int], forecast: ForecastParams
) -> tuple[list[str], dict]:
    """The table rows of one series, and the figures the goals read."""
    rows = []
    for model, r in runs.items():
        p = "n/a" if model == "naive" else f"{np.nanmin(r.p_worse):.3f}"
        rows.append(
            f"| {series} | {model} | {mean_sd(r.rmse, 4)} | {mean_sd(r.ratio)} | {p} "
            f"| {mean_sd(r.val_rmse, 4)} | {np.mean(r.epochs):.0f} | {np.mean(r.cpu_s):.1f} |"
        )
    chosen, ratios = [], []
    for i in range(len(seeds)):
        at = {m: min(i, len(r.val_rmse) - 1) for m, r in runs.items()}
        p_better = {}
        if forecast.model == "best":
            p_better = p_better_than_naive({m: runs[m].val_errors[at[m]] for m in runs})
        scores = {m: runs[m].val_rmse[at[m]] for m in runs}
        name = choose_model(forecast.model, scores, p_better, forecast.significance)
        chosen.append(name)
        ratios.append(runs[name].ratio[at[name]])
    picks = ", ".join(f"{m} x{chosen.count(m)}" for m in dict.fromkeys(chosen))
    rows.append(f"| {series} | selected ({picks}) | | {mean_sd(ratios)} | | | | |")
    nets = {m: np.mean(runs[m].ratio) for m in runs if m in NETWORKS}
    worse = [m for m in runs if m in NETWORKS and np.nanmin(runs[m].p_worse) < SIGNIFICANCE]
    ratio = {m: mean_sd(r.ratio) for m, r in runs.items()} | {"selected": mean_sd(ratios)}
    figures = {"networks": nets, "selected": float(np.mean(ratios)), "worse": worse}
    return rows, figures | {"ratio": ratio}


def summary(figures: dict[str, dict], models: list[str]) -> list[str]:
    """One row per series: every model's RMSE over the floor, and the selection's."""
    columns = [*models, "selected"]
    lines = [
        "| RMSE / floor | " + " | ".join(columns) + " |",
        "|:---|" + "---:|" * len(columns),
    ]
    for series, f in figures.items():
        lines.append(f"| {series} | " + " | ".join(f["ratio"][m] for m in columns) + " |")
    return lines


def goals(figures: dict[str, dict]) -> list[str]:
    """Each goal that the run can judge, met or not."""
    lines = []
    for series, (_, limit) in GOALS.items():
        nets = figures.get(series, {}).get("networks")
        if nets:
            best = min(nets, key=nets.get)
            ok = nets[best] <= limit
            lines.append(
                f"- {series}: best network {best} at {nets[best]:.3f} x floor "
                f"(goal <= {limit:.2f}): {'met' if ok else 'NOT met'}"
            )
    if "random_walk" in figures:
        sel = figures["random_walk"]["selected"]
        ok = sel <= RANDOM_WALK_GOAL
        lines.append(
            f"- random_walk: selected model at {sel:.3f} x naive "
            f"(goal <= {RANDOM_WALK_GOAL:.2f}): {'met' if ok else 'NOT met'}"
        )
    for series in TICKERS:
        if series in figures and figures[series]["networks"]:
            worse = figures[series]["worse"]
            verdict = "met" if not worse else f"NOT met ({', '.join(worse)})"
            lines.append(f"- {series}: no network significantly worse than naive: {verdict}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", nargs="+", default=[*SYNTHETIC, *TICKERS])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    print(f"seeds {' '.join(map(str, args.seeds))}; set: {', '.join(args.set) or 'nothing'}\n")
    print(
        "| series | model | RMSE | RMSE / floor | p (worse than naive) | validation RMSE "
        "| epochs | fit CPU s |"
    )
    print("|:---|:---|---:|---:|---:|---:|---:|---:|")
    figures = {}
    wall = time.perf_counter()
    for series in args.series:
        raw = series_params(base, series, args.set)
        table, info = labelled_table(raw)
        runs: dict[str, Runs] = {}
        for model in args.models:
            r = runs[model] = Runs()
            for seed in args.seeds[:1] if model in DETERMINISTIC else args.seeds:
                for key, value in run_model(table, info, raw, model, seed).items():
                    getattr(r, key).append(value)
        forecast = parse_params(raw).forecast
        rows, figures[series] = series_rows(series, runs, args.seeds, forecast)
        print("\n".join(rows), flush=True)
    print(f"\n{time.perf_counter() - wall:.0f} s wall, {time.process_time():.0f} s CPU\n")
    print("\n".join(summary(figures, args.models)))
    print("\n" + "\n".join(goals(figures)))


if __name__ == "__main__":
    sys.exit(main())
