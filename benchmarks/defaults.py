"""The evidence behind the default target transform, training length and network sizes.

Runs every network (and the naive and linear baselines) on each committed sample ticker
and on synthetic series, through the library's own functions (the same features, split,
scaler, windows, training and scoring as `dvc repro`), once per candidate setting, and
prints one markdown table row per (setting, series, model):

    python benchmarks/defaults.py          # every transform, relative inputs, hidden 32
    python benchmarks/defaults.py --transforms difference log_return --inputs absolute \
        relative --hidden 16 32 64 --series AAPL GOOG

Each row gives the test RMSE of the one-step forecasts, skill against naive, the one-sided
Diebold-Mariano p-value of "worse than naive" (p < 0.05: significantly worse), the best
epoch against the epochs allowed, and the CPU seconds of the fit. A summary per setting
follows: how many networks are significantly worse than naive, how many stopped with
their best epoch at the cap. Everything else comes from params.yaml.
"""

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

# The same series and split as the accuracy benchmark (a script beside this one).
from accuracy import labelled_table, series_params

from seqcast.errors import SeqcastError
from seqcast.jobs.backtest import run_fold
from seqcast.params import parse_params
from seqcast.scoring.significance import against_naive_by_step

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ("rnn", "lstm", "gru")
SAMPLE_TICKERS = ("AAPL", "GOOG", "IBM", "MSFT")
SYNTHETIC = ("random_walk", "seasonal_trend", "noisy_sine")


def setting_params(raw: dict, transform: str, inputs: str, hidden: int, max_epochs: int) -> dict:
    raw = copy.deepcopy(raw)
    raw["target"]["transform"] = transform
    raw["train"]["max_epochs"] = max_epochs
    raw["train"]["threads"] = 1
    for name in NETWORKS:
        raw["models"][name]["hidden_size"] = hidden
        raw["models"][name]["inputs"] = inputs
    raw["models"]["enabled"] = ["naive", "linear", *NETWORKS]
    return raw


def score(table: pd.DataFrame, raw_params: dict, model: str) -> dict:
    params = parse_params(raw_params)
    start = time.process_time()
    result = run_fold(table, model, params)
    cpu = time.process_time() - start
    first = min(result.metrics_by_step)
    dm = against_naive_by_step(result.predictions)[first]
    worse = float("nan") if np.isnan(dm.p_better) else 1.0 - dm.p_better
    history = result.history
    return {
        "rmse": result.metrics_by_step[first]["rmse"],
        "skill": result.metrics_by_step[first]["skill_vs_naive"],
        "p_worse": worse,
        "best_epoch": history.best_epoch,
        "epochs": len(history.val_loss),
        "cpu_s": cpu,
    }


def settings(args: argparse.Namespace) -> list[tuple[str, str, int]]:
    """(transform, inputs, hidden) to try; a level target always has absolute inputs."""
    return [
        (transform, inputs, hidden)
        for transform in args.transforms
        for inputs in (["absolute"] if transform == "level" else args.inputs)
        for hidden in args.hidden
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", nargs="+", default=[*SAMPLE_TICKERS, *SYNTHETIC])
    parser.add_argument("--transforms", nargs="+", default=["level", "difference", "log_return"])
    parser.add_argument("--inputs", nargs="+", default=["relative"], help="relative, absolute")
    parser.add_argument("--hidden", nargs="+", type=int, default=[32])
    parser.add_argument("--max-epochs", type=int, default=None, help="default: params.yaml's")
    args = parser.parse_args()
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    max_epochs = args.max_epochs or base["train"]["max_epochs"]

    print(f"max_epochs {max_epochs}, patience {base['train']['patience']}, one thread\n")
    print(
        "| transform | inputs | hidden | series | model | RMSE | skill | p (worse than naive) "
        "| best epoch / run | fit CPU s |"
    )
    print("|:---|:---|---:|:---|:---|---:|---:|---:|---:|---:|")
    summary: dict[tuple[str, str, int], dict[str, list]] = {}
    for series in args.series:
        raw = series_params(base, series, [])
        table, _ = labelled_table(raw)
        baselines_done: set[str] = set()
        for transform, inputs, hidden in settings(args):
            setting = setting_params(raw, transform, inputs, hidden, max_epochs)
            counts = summary.setdefault(
                (transform, inputs, hidden), {"worse": [], "capped": [], "skill": []}
            )
            # The baselines read neither inputs nor hidden: once per transform.
            baselines = [] if transform in baselines_done else ["naive", "linear"]
            baselines_done.add(transform)
            label = f"| {transform} | {inputs} | {hidden} | {series}"
            for model in (*baselines, *NETWORKS):
                try:
                    r = score(table, setting, model)
                except SeqcastError as exc:  # log_return of a series that crosses 0
                    print(f"{label} | {model} | {exc} |||||", flush=True)
                    continue
                p_worse = "n/a" if model == "naive" else f"{r['p_worse']:.3f}"
                print(
                    f"{label} | {model} | {r['rmse']:.4g} | {r['skill']:+.4f} | {p_worse} | "
                    f"{r['best_epoch']} / {r['epochs']} | {r['cpu_s']:.1f} |",
                    flush=True,
                )
                if model in NETWORKS:
                    counts["worse"].append(r["p_worse"] < 0.05)
                    counts["capped"].append(r["best_epoch"] >= max_epochs)
                    counts["skill"].append(r["skill"])
    print(
        "\n| transform | inputs | hidden | networks significantly worse than naive "
        "| best epoch at the cap | median skill |"
    )
    print("|:---|:---|---:|---:|---:|---:|")
    for (transform, inputs, hidden), c in summary.items():
        n = len(c["worse"])
        if n:
            print(
                f"| {transform} | {inputs} | {hidden} | {sum(c['worse'])} of {n} "
                f"| {sum(c['capped'])} of {n} | {np.median(c['skill']):+.4f} |"
            )


if __name__ == "__main__":
    sys.exit(main())
