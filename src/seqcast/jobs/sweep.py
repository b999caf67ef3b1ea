"""A sweep from params to results: the units of sweep.*, run where the environment says,
cached, logged to MLflow, and summarized. The sweep stage and `seqcast sweep` call it.
"""

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from seqcast import atomic, threads
from seqcast.data import sources
from seqcast.data.alignment import ticker_rows
from seqcast.data.features import make_features
from seqcast.errors import SeqcastError
from seqcast.jobs.sweep_units import run_task, unit_id, unit_params
from seqcast.ops import lineage
from seqcast.ops.sweeps import executors, results, space, summary
from seqcast.ops.sweeps import sweep_runs as sweep_tracking
from seqcast.ops.sweeps.units import Task, Unit, code_version, data_digest
from seqcast.params import Params

Progress = Callable[[str], None]


@dataclass
class SweepRun:
    table: pd.DataFrame  # one row per unit (seqcast.ops.sweeps.results.table)
    summary: dict[str, Any]  # reports/sweep.json
    executor: str
    ran: int  # units run now; the others came from the cache
    retried: int
    seconds: float
    parent_run_id: str | None
    ran_on: dict[str, str] = field(default_factory=dict)  # unit id -> node, for units run now
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # unit id -> its fold's CPU


def sweep_prices(params: Params) -> pd.DataFrame:
    """The raw prices of every sweep ticker (sweep.tickers, or data.ticker), from
    data.source: what the sweep_prices stage writes."""
    tickers = params.sweep.tickers or [params.data.ticker]
    data = params.data
    try:
        raw = sources.load_raw(data.source, data.source_config, tickers[0], tickers[1:])
    except SeqcastError as exc:  # the source names data.ticker(s), which it was asked for
        raise SeqcastError(f"loading sweep.tickers = {tickers}: {exc}") from None
    held = sorted(set(raw.prices["ticker"]))
    missing = [ticker for ticker in tickers if ticker not in held]
    if missing:
        where = "sweep.tickers" if params.sweep.tickers else "data.ticker (sweep.tickers is [])"
        raise SeqcastError(
            f"{where}: data.source = {data.source} has no rows of {', '.join(missing)}; "
            f"it holds {', '.join(held)}"
        )
    return raw.prices


def feature_tables(params: Params, prices: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Each sweep ticker's own feature table, from `prices` (sweep_prices; loaded from
    data.source when not given), as the featurize stage builds data.ticker's
    (features.extra_columns belong to data.ticker and are left out)."""
    tickers = params.sweep.tickers or [params.data.ticker]
    if prices is None:
        prices = sweep_prices(params)  # checked there
    elif missing := [ticker for ticker in tickers if ticker not in set(prices["ticker"])]:
        raise SeqcastError(
            f"sweep.tickers: the sweep's prices hold no rows of {', '.join(missing)}; "
            "rerun the sweep_prices stage"
        )
    target, f = params.data.target, params.features
    return {
        ticker: make_features(
            ticker_rows(prices, ticker), target, f.lags, f.rolling_windows, f.returns
        )
        for ticker in tickers
    }


class _Runner:
    """Runs batches of tasks on one executor: cache first, then retries, then the cache."""

    def __init__(
        self,
        executor: executors.Executor,
        cache: Path,
        rerun: bool,
        retries: int,
        run_unit: Callable[[Task], Any],
        progress: Progress,
    ) -> None:
        self.executor, self.cache, self.rerun = executor, cache, rerun
        self.retries, self.run_unit, self.progress = retries, run_unit, progress
        self.ran_on: dict[str, str] = {}
        self.cpu_seconds: dict[str, float] = {}
        self.retried = 0
        self.done = 0

    def rows(self, tasks: list[Task]) -> dict[str, dict[str, Any]]:
        """unit id -> row, for every task (one per id)."""
        unique = list({t.unit_id: t for t in tasks}.values())
        found = {} if self.rerun else results.cached(self.cache, [t.unit_id for t in unique])
        todo = [t for t in unique if t.unit_id not in found]
        failed: list[tuple[Task, BaseException]] = []
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += len(todo)
                self.progress(f"sweep: trying {len(todo)} failed unit(s) again")
            failed = self._run(todo, found)
            # Bad input (a fold that does not fit the data, say) fails the same way every
            # time: it ends the sweep with its own message, untried again.
            bad = [(t, e) for t, e in failed if isinstance(e, SeqcastError)]
            if bad:
                task, error = bad[0]
                raise SeqcastError(f"{task.unit.label}: {error}")
            todo = [task for task, _ in failed]
            if not todo:
                return found
        task, error = failed[0]
        raise SeqcastError(
            f"{len(todo)} unit(s) failed after {self.retries + 1} tries, e.g. "
            f"{task.unit.label}: {error!r}; the {len(found)} finished units are kept in "
            f"{self.cache}, so a rerun runs only the failed ones"
        )

    def _run(
        self, todo: list[Task], found: dict[str, dict[str, Any]]
    ) -> list[tuple[Task, BaseException]]:
        """Run `todo`, caching and recording each unit as it ends; the failed ones."""
        failed = []
        for count, (index, outcome) in enumerate(self.executor.run(self.run_unit, todo), 1):
            task = todo[index]
            if isinstance(outcome, BaseException):
                failed.append((task, outcome))
                self.progress(
                    f"sweep: [{count}/{len(todo)}] {task.unit.label}: failed: {outcome!r}"
                )
                continue
            results.store(self.cache, outcome.row)
            found[task.unit_id] = outcome.row
            self.ran_on[task.unit_id] = outcome.ran_on
            self.cpu_seconds[task.unit_id] = outcome.cpu_seconds
            self.done += 1
            self.progress(
                f"sweep: [{count}/{len(todo)}] {task.unit.label}: rmse "
                f"{outcome.row['rmse']:.4g} ({outcome.seconds:.1f} s on {outcome.ran_on})"
            )
        return failed


def run_sweep(
    params: Params,
    *,
    prices: pd.DataFrame | None = None,
    executor: executors.Executor | None = None,
    cache: Path | None = None,
    rerun: bool = False,
    retries: int = 1,
    track: bool = True,
    run_unit: Callable[[Task], Any] = run_task,
    progress: Progress = print,
) -> SweepRun:
    """Run (or take from the cache) every unit of sweep.*, and summarize them.

    `prices`: the sweep tickers' raw prices (the sweep_prices stage's); default: loaded
    from data.source. `cache`: default data/sweep/units/ of the user's repository, also
    when DVC runs the stage in a queued experiment's temporary clone, so that experiments
    share it.
    `executor`: default from the environment (seqcast.ops.sweeps.executors). `rerun`: run every
    unit again, ignoring the cache. `retries`: tries after a unit's first failure.
    `track`: log the parent and child runs to MLflow."""
    started = time.perf_counter()
    s = params.sweep
    tables = feature_tables(params, prices)
    if params.features.extra_columns:
        progress(
            f"sweep: features.extra_columns ({', '.join(params.features.extra_columns)}) are "
            "inputs of data.ticker's pipeline only; each sweep ticker has its own columns"
        )
    code = code_version()
    digests = {ticker: data_digest(table) for ticker, table in tables.items()}
    own = executor is None
    executor = executor or executors.from_environment(threads.resolve_threads(params.train))
    parent = None
    if track:
        parent = sweep_tracking.start_parent(
            s.experiment,
            f"sweep of {len(tables)} ticker(s) x {len(s.models)} model(s)",
            {
                "search": s.search,
                "tickers": ",".join(tables),
                "models": ",".join(s.models),
                "seeds": ",".join(map(str, s.seeds)),
                "origins": ",".join(map(str, s.origins)),
                "code": code,
            },
            {"seqcast.executor": executor.description},
        )
    to_workers = parent.for_workers if parent else {}

    def task(unit: Unit) -> Task:
        p = unit_params(params, unit)
        uid = unit_id(unit, p, digests[unit.ticker], code)
        return Task(unit, uid, p.model_dump(mode="json"), tables[unit.ticker], code, to_workers)

    cache = cache or lineage.repository_root(Path.cwd()) / results.CACHE
    runner = _Runner(executor, cache, rerun, retries, run_unit, progress)
    progress(f"sweep: running on {executor.description}")
    try:
        if s.search == "grid":
            tasks = [task(u) for u in grid_units(params, list(tables))]
            found = runner.rows(tasks)
        else:
            tasks, found = tpe_search(params, list(tables), task, runner)
    except BaseException:
        if parent:
            sweep_tracking.finish_parent(parent, {}, [], status="FAILED")
        raise
    finally:
        if own:
            executor.close()
    rows = [found[t.unit_id] for t in {t.unit_id: t for t in tasks}.values()]
    table = results.table(rows)
    result = summary.summarize(table, s.significance)
    if parent:
        logged_by_workers = set(runner.ran_on) if to_workers else set()
        driver_rows = [r for r in rows if r["unit_id"] not in logged_by_workers]
        sweep_tracking.log_children(parent, driver_rows, runner.ran_on)
        with tempfile.TemporaryDirectory() as folder:
            files = [Path(folder) / "sweep.json", Path(folder) / "results.parquet"]
            atomic.write_json(files[0], result)
            results.write_table(table, files[1])
            sweep_tracking.finish_parent(parent, summary.headline_metrics(result), files)
    return SweepRun(
        table,
        result,
        executor.description,
        runner.done,
        runner.retried,
        time.perf_counter() - started,
        parent.run_id if parent else None,
        runner.ran_on,
        runner.cpu_seconds,
    )


def grid_units(params: Params, tickers: list[str]) -> list[Unit]:
    s = params.sweep
    return [
        Unit(ticker, model, space.config_text(config), seed, str(origin))
        for ticker in tickers
        for model in s.models
        for config in space.grid(s.space.get(model, {}))  # type: ignore[arg-type]
        for seed in s.seeds
        for origin in s.origins
    ]


def tpe_search(
    params: Params, tickers: list[str], task: Callable[[Unit], Task], runner: _Runner
) -> tuple[list[Task], dict[str, dict[str, Any]]]:
    """Optuna TPE, one study per (ticker, model), all advanced together in rounds: each
    round asks every study for one config and runs all their units at once, so that the
    configs proposed depend on the rounds, never on the executor or its speed."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = params.sweep
    studies = {
        (ticker, model): optuna.create_study(
            direction="minimize",
            sampler=optuna.samplers.TPESampler(
                seed=s.seeds[0], n_startup_trials=max(2, s.trials // 2)
            ),
        )
        for ticker in tickers
        for model in s.models
    }
    all_tasks: list[Task] = []
    found: dict[str, dict[str, Any]] = {}
    for round_ in range(s.trials):
        asked = []
        for (ticker, model), study in studies.items():
            keys = s.space.get(model, {})
            if not keys and round_ > 0:
                continue  # nothing to search: its one config ran in round 0
            trial = study.ask()
            config = space.config_text(space.suggest(trial, model, keys))
            units = [
                task(Unit(ticker, model, config, seed, str(origin)))
                for seed in s.seeds
                for origin in s.origins
            ]
            asked.append((study, trial, units))
        batch = [t for _, _, units in asked for t in units]
        found.update(runner.rows(batch))
        all_tasks += batch
        for study, trial, units in asked:
            study.tell(trial, sum(found[t.unit_id]["rmse"] for t in units) / len(units))
    return all_tasks, found
