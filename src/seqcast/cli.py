"""The `seqcast` command: one subcommand per job, each with its own --help.

    seqcast check [PARAMS]          validate params.yaml before a long run
    seqcast gate [--ref REF] ...    fresh metrics against the committed ones
    seqcast promote [--ref REF]     move `champion` to the workspace's model, if the gate passes
    seqcast reproduce RUN_ID        rerun an MLflow run's pipeline and compare
    seqcast ui [--port PORT]        the MLflow UI over this repository's store
    seqcast check-lock              does dvc.lock describe what is committed?
    seqcast plot-page PATH          the page `dvc plots` fills, for use offline
    seqcast forecast [--model M]    dated forecasts from the trained pipeline, as CSV
    seqcast sweep [--ray ADDRESS]   run sweep.* (tickers x models x configs x seeds x folds)

A subcommand is one function under @command, which registers it: its name, its one-line
help, its arguments. Its docstring is the description its --help shows. It returns the
exit code (None for 0), prints its result to stdout and raises SeqcastError on bad input,
which ends it with one line, `seqcast NAME: error: ...`, and exit code 2. Log messages go
to stderr (stage.logging_to); -v or SEQCAST_LOG_LEVEL sets how many.

The library modules are imported inside the functions: `seqcast --help` and
`seqcast check` need not load MLflow, pandas or the gate.
"""

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqcast import stage

logger = logging.getLogger(__name__)

Run = Callable[[argparse.Namespace], int | None]
Argument = tuple[tuple[str, ...], dict[str, Any]]  # add_argument's positional and keywords


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # the line in `seqcast --help`
    arguments: tuple[Argument, ...]
    run: Run


COMMANDS: dict[str, Command] = {}


def argument(*flags: str, **options: Any) -> Argument:
    """One argument of a subcommand, as ArgumentParser.add_argument takes it."""
    return flags, options


def command(name: str, summary: str, *arguments: Argument) -> Callable[[Run], Run]:
    """Register the decorated function as `seqcast <name>`."""

    def register(run: Run) -> Run:
        if name in COMMANDS:
            raise ValueError(f"seqcast {name}: registered twice")
        COMMANDS[name] = Command(name, summary, arguments, run)
        return run

    return register


@command(
    "check",
    "validate a params file before a long run",
    argument(
        "params", nargs="?", default="params.yaml", help="the params file (default: %(default)s)"
    ),
)
def check_params(args: argparse.Namespace) -> None:
    """Validate a params file: every key known, every value of the right type and range.
    Prints 'PARAMS: valid'; otherwise names the key, the value and what was expected, and
    exits with code 2."""
    from seqcast.params import load_params

    load_params(args.params)
    print(f"{args.params}: valid")


@command(
    "gate",
    "fail when fresh metrics are worse than the committed ones",
    argument("--metrics", type=Path, default=Path("reports/metrics.json"), help="fresh metrics"),
    argument("--ref", default="HEAD", help="git ref holding the committed metrics"),
    argument("--params", type=Path, default=Path("params.yaml"), help="params with gate rules"),
    argument(
        "--profile",
        type=Path,
        help="params overrides: run the pipeline on them in a throwaway copy first",
    ),
)
def run_gate(args: argparse.Namespace) -> int:
    """The metric gate: the fresh metrics file against the one committed at --ref, one row
    per metric with its verdict and the reason. The primary metric decides, and only beyond
    its tolerance and beyond noise. Exit code 0 when it passes, 1 on a regression, 2 on
    bad input."""
    from seqcast.jobs import gate

    stage.pin_threads(str(args.params))
    report, failed = gate.run(Path.cwd(), args.metrics, args.ref, args.params, args.profile)
    print(report)
    return 1 if failed else 0


@command(
    "promote",
    "move the registered model's `champion` to the workspace's model, if the gate passes",
    argument("--ref", default="HEAD", help="git ref whose committed metrics the gate reads"),
    argument(
        "--version", help="the registered version to promote (default: the workspace's model)"
    ),
    argument("--params", type=Path, default=Path("params.yaml"), help="params with gate rules"),
)
def promote(args: argparse.Namespace) -> int:
    """Promote a candidate: `dvc repro` and `dvc exp run` register the model they select as
    a new version of <tracking.experiment>-<data.ticker>, but never move its alias
    `champion`. This runs the metric gate on reports/metrics.json against --ref's and,
    only if it passes, moves `champion` to the version that holds the workspace's selected
    model (or --version), tagged with the gate's verdict. Exit code 0 when promoted, 1 when
    the gate fails (champion stays), 2 on bad input."""
    from seqcast.jobs.promote import promote as promote_version
    from seqcast.params import load_params

    params = load_params(args.params, models=(), with_source=False)
    stage.pin_threads(str(args.params))
    done = promote_version(
        Path.cwd(), params.tracking.experiment, params.data.ticker, args.ref, args.version
    )
    print(done.report)
    print(f"promote: {done.describe()}")
    return 0 if done.promoted else 1


@command(
    "reproduce",
    "rerun the pipeline of an MLflow run and compare the numbers",
    argument("run_id", metavar="RUN_ID", help="MLflow run id (in the store MLflow points at)"),
)
def reproduce_run(args: argparse.Namespace) -> int:
    """Reproduce an MLflow run: its commit and exact params, a fresh pipeline run up to its
    model's evaluation in a throwaway copy, and an exact comparison of every metric, param
    and lineage hash. Exit code 0 when identical, 1 when anything differs (listed), 2 when
    the run cannot be reproduced."""
    from seqcast.jobs import reproduce

    found, compared = reproduce.reproduce(args.run_id, Path.cwd())
    print(reproduce.outcome(args.run_id, found, compared))
    return 1 if found else 0


@command(
    "ui",
    "the MLflow UI over this repository's runs, on 127.0.0.1",
    argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default: %(default)s)"),
)
def serve_ui(args: argparse.Namespace) -> None:
    """The MLflow UI over this repository's store (or MLFLOW_TRACKING_URI's), bound to
    127.0.0.1. The process becomes the MLflow server; Ctrl-C stops it."""
    from seqcast.ops import ui
    from seqcast.params import load_params

    root = Path.cwd()
    tracking = load_params(root / "params.yaml", models=(), with_source=False).tracking
    ui.serve(root, args.port, tracking.experiment)


@command("check-lock", "fail when dvc.lock does not describe what is committed")
def check_lock(args: argparse.Namespace) -> int:
    """Compare the committed code, params, sample data and reports with what dvc.lock
    records for each stage, without running anything (CI runs it on a fresh clone). Exit
    code 1, with the list and what to do, when anything differs."""
    from seqcast.ops import lock_check

    found = lock_check.differences()
    if not found:
        print(lock_check.MATCH)
        return 0
    print("\n".join([lock_check.STALE, *(f"  {line}" for line in found)]), file=sys.stderr)
    return 1


@command(
    "plot-page",
    "write the page `dvc plots` fills, with its charting library inline",
    argument("path", type=Path, metavar="PATH", help="where to write the page"),
)
def write_plot_page(args: argparse.Namespace) -> None:
    """Write the HTML page that `dvc plots show` and `dvc plots diff` fill, with Vega,
    Vega-Lite and Vega-Embed inline, so that it opens with no network (`make` writes
    .dvc/plots/offline.html, which .dvc/config names)."""
    from seqcast.reporting import plot_page

    plot_page.write(args.path)


@command(
    "forecast",
    "forecast past the last observed date with the pipeline's trained models",
    argument("--model", help="a model in models.enabled, or best (default: forecast.model)"),
    argument("--days", type=int, help="business days to forecast (default: forecast.days)"),
    argument("--params", type=Path, default=Path("params.yaml"), help="the params file"),
    argument(
        "--evaluations",
        type=Path,
        default=Path("reports/models"),
        help="evaluate@model outputs (their calibrated forecasters)",
    ),
    argument("--windows", type=Path, default=Path("data/windows"), help="window stage output"),
    argument(
        "--split", type=Path, default=Path("data/split/split.parquet"), help="the split table"
    ),
)
def forecast(args: argparse.Namespace) -> None:
    """Forecast past the last observed date with the models that `dvc repro` trained, as
    the forecast stage does, without DVC: the model is --model (or forecast.model; best:
    the lowest validation RMSE, under forecast.significance; or a registered
    models:/<name>@<alias>), the length --days (or forecast.days). Prints the dated
    forecast in price units as CSV (date, step, forecast and the 80% and 95% bounds); how
    the model was chosen goes to stderr."""
    from seqcast.errors import SeqcastError
    from seqcast.jobs.forecast import forecast_trained, store_uri
    from seqcast.params import REGISTRY_SCHEME, load_params

    params = load_params(args.params)
    choice = args.model or params.forecast.model
    days = params.forecast.days if args.days is None else args.days
    if days < 1:
        raise SeqcastError(f"--days {days}: forecast at least one business day")
    enabled = params.models.enabled
    registered = choice.startswith(REGISTRY_SCHEME)
    if choice != "best" and choice not in enabled and not registered:
        raise SeqcastError(
            f"--model {choice}: choose best, one of {', '.join(enabled)} or models:/<name>@<alias>"
        )
    needed = [args.evaluations / n for n in enabled] + [args.windows, args.split]
    absent = [str(path) for path in needed if not path.exists()]
    if absent:
        raise SeqcastError(f"{', '.join(absent)}: not found; run `make repro` first")
    result = forecast_trained(
        args.evaluations, args.windows, args.split, enabled, choice, days, params.data.ticker,
        store_uri(choice), params.forecast.significance,
    )  # fmt: skip
    s = result.summary
    logger.info(
        "forecast: %s (%s), %d business days after %s",
        s["model"],
        result.how,
        days,
        s["last_observed_date"],
    )
    print(result.frame.to_csv(date_format="%Y-%m-%d", float_format="%.6f"), end="")


@command(
    "sweep",
    "run the sweep of params.yaml (sweep.*) and print its table",
    argument("--params", type=Path, default=Path("params.yaml"), help="the params file"),
    argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a params key, as `dvc exp run -S` does: --set 'sweep.seeds=[1,2,3]'",
    ),
    argument("--workers", type=int, help="local processes (default: cores / train.threads)"),
    argument(
        "--ray", metavar="ADDRESS", help="run on this Ray cluster: ray://HOST:10001, HOST:6379"
    ),
    argument("--rerun", action="store_true", help="run every unit, even those in the cache"),
    argument("--retries", type=int, default=1, help="tries after a unit fails (default: 1)"),
    argument("--out", type=Path, help="also write the results table (parquet) and the summary"),
)
def sweep(args: argparse.Namespace) -> None:
    """Run every (ticker, model, config, seed, fold) unit of sweep.* as the sweep stage
    does, without DVC, and print the best config of each ticker and model against naive.
    Units finished before (data/sweep/units/) are taken from there unless --rerun. Units
    run on a local process pool (--workers, or SEQCAST_WORKERS) or on a Ray cluster
    (--ray, or SEQCAST_RAY_ADDRESS); the results are the same. The sweep is logged to
    MLflow (MLFLOW_TRACKING_URI, or the local store): one parent run, one child per unit."""
    import os

    import yaml

    from seqcast import atomic
    from seqcast.errors import SeqcastError
    from seqcast.jobs.sweep import run_sweep
    from seqcast.ops.sandbox import merge
    from seqcast.ops.sweeps import executors, results, summary
    from seqcast.params import parse_params, read_raw

    raw = read_raw(args.params)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SeqcastError(f"--set {item}: write KEY=VALUE, e.g. sweep.seeds=[1,2]")
        update: dict[str, Any] = {}
        *parents, last = key.split(".")
        node = update
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
        raw = merge(raw, update)
    params = parse_params(raw, str(args.params))
    if args.retries < 0:
        raise SeqcastError(f"--retries {args.retries}: use 0 (no retry) or more")
    if args.workers is not None:
        if args.workers < 1:
            raise SeqcastError(f"--workers {args.workers}: use 1 or more")
        os.environ[executors.WORKERS] = str(args.workers)
    if args.ray:
        os.environ[executors.RAY_ADDRESS] = args.ray
    stage.pin_threads(str(args.params))
    run = run_sweep(params, rerun=args.rerun, retries=args.retries, progress=logger.info)
    if args.out:
        results.write_table(run.table, args.out / "results.parquet")
        atomic.write_json(args.out / "sweep.json", run.summary)
    print(summary.text_table(run.summary))
    print(
        f"\n{len(run.table)} units: {run.ran} run on {run.executor}, "
        f"{len(run.table) - run.ran} from the cache; {run.seconds:.1f} s; "
        f"MLflow parent run {run.parent_run_id}"
    )


def parser() -> argparse.ArgumentParser:
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,  # given before or after the subcommand, both count
        help="log debug messages too (or set SEQCAST_LOG_LEVEL)",
    )
    top = argparse.ArgumentParser(
        prog="seqcast",
        description="Reproducible time-series forecasting with recurrent networks: the "
        "commands around the DVC pipeline (`dvc repro` runs the pipeline itself).",
        epilog="`seqcast COMMAND --help` describes each command.",
        parents=[verbose],
    )
    subcommands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for entry in COMMANDS.values():
        sub = subcommands.add_parser(
            entry.name,
            help=entry.summary,
            description=entry.run.__doc__,
            parents=[verbose],
        )
        for flags, options in entry.arguments:
            sub.add_argument(*flags, **options)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """`seqcast ...`: the exit code of the subcommand."""
    args = parser().parse_args(argv)
    with stage.entry_point(args.command, "stderr", getattr(args, "verbose", False)):
        return COMMANDS[args.command].run(args) or 0
