"""MLflow tracking: where runs go, and per pipeline execution one parent run with one child
run per model, each with everything to reproduce it.

The default store is an SQLite database at the repository root (mlflow.db), with
artifacts under mlartifacts/; MLFLOW_TRACKING_URI points elsewhere (a team server).
The repository root is the user's, also when a queued DVC experiment runs the stage in a
temporary clone (seqcast.ops.lineage), and writers to a local store take turns
(seqcast.ops.store_lock).

evaluate@model logs its model's run (record_model_run) under the execution's parent run
(seqcast.ops.pipeline_run), which the first of them creates; compare logs the report to the
parent and ends it (finish_pipeline_run). Every params.yaml section that can change a
result is logged; a model's own section under its own name (lstm.hidden_size).
"""

import datetime
import hashlib
import json
import logging
import os
import socket
import sqlite3
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd
import psutil

from seqcast.errors import SeqcastError
from seqcast.ops import lineage, pipeline_run, store_lock

if TYPE_CHECKING:
    from seqcast.forecasting.forecaster import PriceForecaster

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# A stage's log is read by people: no progress bars for the few small files of a model.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.dataset_source_registry import get_dataset_source_from_json
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_RUN_NOTE
from mlflow.utils.validation import MAX_METRICS_PER_BATCH

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"
MAX_TAG_VALUE = 8000  # MLflow's limit
LINEAGE_FILES = ("params.yaml", "dvc.lock")  # logged as artifacts under lineage/
PIPELINE_WRITES = (":!dvc.lock", ":!reports")
# The process that logs a run: host, pid and start time (a pid reused later is another process)
OWNER_HOST, OWNER_PID = pipeline_run.HOST_TAG, pipeline_run.PID_TAG
OWNER_STARTED = pipeline_run.STARTED_TAG
# The experiment opens in MLflow's model-training view, not the GenAI one (the values the
# MLflow 3 UI knows: genai_development, custom_model_development).
EXPERIMENT_KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"
CHANGED_TAG = "seqcast.changed_params"  # key=value of the params that differ from the baseline
NAME_PARAMS_CHARS = 60  # changed params shown in a run name, at most
# How long the store check waits on another program's lock: long enough to ride out a
# parallel run's write (milliseconds), short enough to fail once and clearly; MLflow
# itself waits 20 s per statement.
LOCK_WAIT_S = 5.0
# Which run each model's last evaluation logged. Not a DVC output: a run id is new on every
# run, and outputs must be what the committed code and params reproduce, digit for digit.
RUN_RECORDS = Path(".seqcast") / "runs"
RAW_DATA = "data/raw/prices.parquet"  # the download stage's output: the parent's data_md5


def run_record(workdir: Path, model: str) -> Path:
    """The file naming the MLflow run of `model`'s last evaluation in `workdir`."""
    return workdir / RUN_RECORDS / f"{model}.json"


def recorded_run_id(workdir: Path, model: str) -> str:
    return json.loads(run_record(workdir, model).read_text())["run_id"]


def default_uri(root: Path) -> str:
    return f"sqlite:///{(root / DEFAULT_DB).resolve()}"


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or default_uri(root)


def _sqlite_cause(exc: BaseException) -> sqlite3.Error | None:
    """The SQLite error under what MLflow or SQLAlchemy raised, when the store's file failed."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, sqlite3.Error | SeqcastError):
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    return cause if isinstance(cause, sqlite3.Error) else None


def _store_error(database: Path, problem: sqlite3.Error | str) -> SeqcastError:
    # Extended codes too, such as SQLITE_BUSY_RECOVERY.
    name = getattr(problem, "sqlite_errorname", None) or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return SeqcastError(
            f"MLflow store {database} is locked by another program ({problem}); close it (a "
            "sqlite3 shell, a DB browser, another `mlflow` process) and rerun"
        )
    return SeqcastError(
        f"MLflow store {database}: not a usable MLflow database ({problem}); move it aside "
        f"(e.g. `mv {database} {database}.broken`) and rerun: a new store is created, or set "
        "MLFLOW_TRACKING_URI"
    )


def check_store(uri: str) -> None:
    """Fail at once, leaving the file as it was, on a local SQLite store that MLflow cannot
    use: not a database, another program's database (MLflow would add its tables to it), or
    one that another program keeps locked (MLflow would wait 20 s per statement)."""
    database = store_lock.sqlite_path(uri)
    if database is None or not database.is_file() or database.stat().st_size == 0:
        return  # MLflow creates the store
    try:
        # Read-write, so that SQLite rolls back a journal that a killed writer left.
        with closing(
            sqlite3.connect(
                f"{database.absolute().as_uri()}?mode=rw",
                uri=True,
                timeout=LOCK_WAIT_S,
                isolation_level=None,
            )
        ) as connection:
            # The write lock that MLflow will need, released unused when the connection
            # closes: a program that holds it (a DB browser with unsaved edits) is found now.
            connection.execute("BEGIN IMMEDIATE")
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
    except sqlite3.Error as error:
        raise _store_error(database, error) from None
    if tables and "experiments" not in tables:
        raise _store_error(database, f"its tables {', '.join(sorted(tables))} are not MLflow's")


def _not_a_store_fault(record: logging.LogRecord) -> bool:
    """MLflow logs a failed statement with its traceback before it raises; the store's
    failure is reported once, by store_errors, so that log is left out."""
    return not (record.exc_info and _sqlite_cause(record.exc_info[1]))


@contextmanager
def store_errors(uri: str) -> Iterator[None]:
    """A local SQLite store that fails (corrupt pages, a lock taken meanwhile) becomes one
    SeqcastError that says what to do; any other error passes unchanged."""
    database = store_lock.sqlite_path(uri)
    if database is None:
        yield
        return
    mlflow_db_log = logging.getLogger("mlflow.store.db.utils")
    mlflow_db_log.addFilter(_not_a_store_fault)
    try:
        yield
    except Exception as exc:
        error = _sqlite_cause(exc)
        if error is None:
            raise
        raise _store_error(database, error) from None
    finally:
        mlflow_db_log.removeFilter(_not_a_store_fault)


def use_experiment(name: str, root: Path) -> str:
    """Point MLflow at the store and experiment, creating either on first use."""
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    check_store(uri)
    with store_errors(uri):
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            return _create_experiment(name, root, uri)
        if experiment.tags.get(EXPERIMENT_KIND_TAG) != MODEL_TRAINING:  # made before the tag
            mlflow.tracking.MlflowClient().set_experiment_tag(
                experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING
            )
        return experiment.experiment_id


def _create_experiment(name: str, root: Path, uri: str) -> str:
    # The default database keeps its artifacts next to it, not in ./mlruns of the cwd; a
    # server chooses its own artifact store.
    local = uri == default_uri(root)
    location = (root / DEFAULT_ARTIFACTS).resolve().as_uri() if local else None
    try:
        return mlflow.create_experiment(
            name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING}
        )
    except MlflowException as exc:
        if _sqlite_cause(exc) is not None:
            raise  # the store failed: nothing was created meanwhile
        return mlflow.get_experiment_by_name(name).experiment_id  # by a parallel run


def git_state(root: Path) -> dict[str, str]:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown"
    # The pipeline itself rewrites dvc.lock and the committed reports while it runs;
    # only changes to anything else make the run differ from its commit.
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", *PIPELINE_WRITES)
    state = {"git_commit": commit, "git_dirty": str(bool(dirty)).lower()}
    if dirty:  # e.g. params.yaml under `dvc exp run -S`: restorable from the run's artifact
        paths = ", ".join(line.split(maxsplit=1)[1] for line in dirty.splitlines())
        state["git_dirty_paths"] = paths[:MAX_TAG_VALUE]
    return state


def _epoch_seconds(day: str) -> int:
    return int(datetime.datetime.fromisoformat(day).replace(tzinfo=datetime.UTC).timestamp())


def dataset_source(origin: dict[str, Any], ticker: str) -> DatasetSource:
    """Where the raw table came from, as MLflow describes a dataset's source; `origin` is
    the download stage's account of it (data/raw/source.json)."""
    source = origin.get("source")
    if source in ("sample", "csv"):
        uri = json.dumps({"uri": origin["path"]})
        return get_dataset_source_from_json(uri, source_type="local")
    if source == "yfinance":
        request = origin["request"]
        start, end = (_epoch_seconds(day) for day in (request["start"], request["end"]))
        query = f"period1={start}&period2={end}&interval={request['interval']}"
        return HTTPDatasetSource(f"https://finance.yahoo.com/quote/{ticker}/history/?{query}")
    if source == "synthetic":
        spec = {"seqcast.data.sources.synthetic": origin["kind"], "seed": origin["seed"]}
        return CodeDatasetSource(spec)
    return CodeDatasetSource({"source": str(source)})


def raw_dataset(
    raw: Path, origin: dict[str, Any], ticker: str, tickers: Sequence[str]
) -> DatasetInput:
    """The raw price table as the runs' training dataset: its source, its schema and row
    count, and as digest its md5, the one dvc.lock records."""
    table = pd.read_parquet(raw)
    with warnings.catch_warnings():
        # Integer columns (volume) cannot hold missing values: a note for model signatures.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        dataset = mlflow.data.from_pandas(
            table,
            source=dataset_source(origin, ticker),
            name=f"{', '.join(tickers)} prices ({origin.get('source')})",
            digest=hashlib.md5(raw.read_bytes()).hexdigest(),
        )
        described = dataset.to_dict()  # infers the schema
    entity = Dataset(
        name=described["name"],
        digest=described["digest"],
        source_type=described["source_type"],
        source=described["source"],
        schema=described.get("schema"),
        profile=described.get("profile"),
    )
    return DatasetInput(entity, tags=[InputTag(MLFLOW_DATASET_CONTEXT, "training")])


@contextmanager
def model_run(
    experiment: str,
    root: Path,
    run_name: str,
    tags: dict[str, str],
    parent_run_id: str | None = None,
) -> Iterator[Any]:
    """An MLflow run, nested under `parent_run_id` if given, that ends FINISHED, or FAILED
    on an exception or a stop signal (the stage turns SIGTERM into one); a run left RUNNING
    by a killed process (kill -9, a power cut) is ended FAILED by the next model run on this
    machine."""
    experiment_id = use_experiment(experiment, root)
    end_abandoned_runs(experiment_id)
    owner = {
        OWNER_HOST: socket.gethostname(),
        OWNER_PID: str(os.getpid()),
        OWNER_STARTED: lineage.start_time(psutil.Process()),
    }
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=run_name,
        tags={**tags, **owner},
        nested=parent_run_id is not None,
        parent_run_id=parent_run_id,
    ) as run:
        yield run


def end_abandoned_runs(experiment_id: str, model: str | None = None) -> list[str]:
    """End FAILED the RUNNING model runs (of `model`, or of any) whose process on this
    machine is gone."""
    client = mlflow.tracking.MlflowClient()
    which = f"tags.model = '{model}' and " if model else ""
    running = client.search_runs(
        [experiment_id], filter_string=f"{which}attributes.status = 'RUNNING'"
    )
    running = [run for run in running if "model" in run.data.tags]  # parents: close_abandoned
    ended = []
    for run in running:
        tags = run.data.tags
        if tags.get(OWNER_HOST) != socket.gethostname() or not tags.get(OWNER_PID, "").isdigit():
            continue  # another machine's run, or one made before these tags existed
        if not lineage.process_running(int(tags[OWNER_PID]), tags.get(OWNER_STARTED, "")):
            client.set_tag(run.info.run_id, "seqcast.abandoned", "its process was killed")
            client.set_terminated(run.info.run_id, status="FAILED")
            ended.append(run.info.run_id)
    return ended


def log_history(history: dict[str, Any]) -> None:
    """Per-epoch train and validation loss, one step per epoch, in one batch."""
    run_id = mlflow.active_run().info.run_id
    now = int(time.time() * 1000)
    metrics = [
        Metric(key, value, timestamp=now, step=epoch)
        for key in ("train_loss", "val_loss")
        for epoch, value in enumerate(history[key], start=1)
    ]
    client = mlflow.tracking.MlflowClient()
    for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):  # the limit per call
        client.log_batch(run_id, metrics=metrics[start : start + MAX_METRICS_PER_BATCH])


def execution_label(execution: lineage.Execution, commit: str, changed: list[str] | None) -> str:
    """What tells this execution's runs apart in MLflow's run list: the DVC experiment's
    name; else the short commit, and the params changed from it if any."""
    if execution.experiment:
        return execution.experiment
    label = commit[:7]
    if changed:
        listed = ", ".join(changed)
        cut = listed if len(listed) <= NAME_PARAMS_CHARS else listed[:NAME_PARAMS_CHARS] + "..."
        label = f"{label} {cut}"
    return label


def _description(execution: lineage.Execution, commit: str, changed: list[str] | None) -> str:
    """The parent run's description (markdown): what ran, from which commit, what changed."""
    what = "DVC experiment" if execution.experiment else "Run by"
    base = f"{what} `{execution.experiment or execution.command}`, from commit `{commit[:12]}`."
    if changed is None:
        note = f"{base} Which params differ from {lineage.baseline_rev()} is unknown."
    elif not changed:
        note = f"{base} Params as committed."
    else:
        note = f"{base} Params changed from it:\n\n" + "\n".join(f"- `{c}`" for c in changed)
    return note[:MAX_TAG_VALUE]


def execution_tags(
    workdir: Path, execution: lineage.Execution, changed: list[str] | None
) -> dict[str, str]:
    """Tags that both the parent and the model runs of an execution carry: commit, DVC
    experiment, the params changed from the baseline, the execution's key."""
    listed = "unknown" if changed is None else ", ".join(changed)
    return {
        **git_state(workdir),
        **lineage.experiment_tags(),
        CHANGED_TAG: listed[:MAX_TAG_VALUE],
        pipeline_run.EXECUTION_TAG: execution.key,
    }


class _Parent(NamedTuple):
    """What an execution's parent run carries, should a stage create it."""

    label: str  # execution_label: the parent is `pipeline · <label>`, a model `lstm · <label>`
    shared: dict[str, str]  # execution_tags: the parent's and every model run's
    tags: dict[str, str]  # the parent's own: shared, data_md5 and its note


def _parent(workdir: Path, execution: lineage.Execution, data_md5: str) -> _Parent:
    changed = lineage.changed_params(workdir)
    shared = execution_tags(workdir, execution, changed)
    label = execution_label(execution, shared["git_commit"], changed)
    note = _description(execution, shared["git_commit"], changed)
    return _Parent(label, shared, {"data_md5": data_md5, **shared, MLFLOW_RUN_NOTE: note})


def current_runs(
    uri: str, experiment: str, workdir: Path, models: Sequence[str], known: dict[str, str]
) -> dict[str, str | None]:
    """Each model's current run: `known` ones as given, the others' found by their lineage
    in `workdir`'s dvc.lock (evaluation_run); None where this store holds none."""
    lock = workdir / "dvc.lock"
    return {m: known.get(m) or evaluation_run(uri, experiment, m, lock) for m in models}


def record_model_run(
    *,
    name: str,
    experiment: str,
    params: dict[str, str],
    dataset: DatasetInput,
    metrics: dict[str, float],
    history: dict[str, Any],
    report_dir: Path,
    model_dir: Path,
    leaderboard: dict[str, dict[str, float]],
    forecaster: "PriceForecaster | None" = None,
    prices: pd.Series | None = None,
    inputs: Sequence[Path] = (),
) -> str:
    """One MLflow run for one model in `experiment`, nested under its execution's parent
    run: `params` (flattened, as seqcast.jobs.run_params.logged_params gives them), loss per
    epoch, metrics, the raw data as dataset (raw_dataset), artifacts, lineage, and the
    forecaster as an MLflow pyfunc model named after the model (its input example from
    `prices`). Then the parent is settled with `leaderboard` (every enabled model's
    headline metrics as they stand now, this one's fresh) and each model's current run.

    `inputs` are the files and directories the evaluation read; their md5 from dvc.lock
    is tagged with those of train@name's dependencies.
    """
    workdir = Path.cwd()  # where the stage runs: a temporary clone under a queued experiment
    store_root = lineage.repository_root(workdir)
    uri = tracking_uri(store_root)
    hashes = lineage.lock_hashes(workdir / "dvc.lock", f"train@{name}", inputs)
    execution = lineage.current_execution()
    # The same md5 that dvc.lock records for the raw data.
    parent = _parent(workdir, execution, dataset.dataset.digest)
    tags = {
        "model": name,
        "dvc_stages": f"train@{name} evaluate@{name}",
        pipeline_run.KIND_TAG: pipeline_run.MODEL,
        "data_md5": dataset.dataset.digest,
        **parent.shared,
        **lineage.dependency_tags(hashes),
    }
    with store_errors(uri), store_lock.exclusive(uri):
        experiment_id = use_experiment(experiment, store_root)
        client = mlflow.tracking.MlflowClient()
        pipeline_run.close_abandoned(client, experiment_id, execution.host)
        parent_id = pipeline_run.find_or_create(
            client, experiment_id, execution, name=f"pipeline · {parent.label}", tags=parent.tags,
            dataset=dataset,
        )  # fmt: skip
        try:
            run_name = f"{name} · {parent.label}"
            with model_run(experiment, store_root, run_name, tags, parent_id) as run:
                _log_model_run(run.info.run_id, name, params, metrics, history, dataset)
                _log_model_artifacts(workdir, name, report_dir, model_dir, forecaster, prices)
                run_id = run.info.run_id
        except BaseException:
            pipeline_run.fail(client, parent_id, f"the run of {name} failed")
            raise
        known = {name: run_id}
        runs = current_runs(uri, experiment, workdir, list(leaderboard), known)
        pipeline_run.settle(client, parent_id, leaderboard, runs)
        return run_id


def _log_model_run(
    run_id: str,
    name: str,
    params: dict[str, str],
    metrics: dict[str, float],
    history: dict[str, Any],
    dataset: DatasetInput,
) -> None:
    client = mlflow.tracking.MlflowClient()
    pipeline_run.log_params(client, run_id, params)
    client.log_inputs(run_id, datasets=[dataset])
    log_history(history)
    mlflow.log_metrics(metrics)


def _log_model_artifacts(
    workdir: Path,
    name: str,
    report_dir: Path,
    model_dir: Path,
    forecaster: "PriceForecaster | None",
    prices: pd.Series | None,
) -> None:
    for lineage_file in LINEAGE_FILES:
        if (workdir / lineage_file).is_file():
            mlflow.log_artifact(str(workdir / lineage_file), "lineage")
    mlflow.log_artifacts(str(report_dir), "report")
    mlflow.log_artifacts(str(model_dir), "seqcast_model")
    if forecaster is not None:
        from seqcast.ops.pyfunc_model import log_forecaster

        with tempfile.TemporaryDirectory() as directory:
            log_forecaster(forecaster, name, prices, Path(directory) / "forecaster")


def finish_pipeline_run(
    experiment: str,
    params: dict[str, str],
    files: Sequence[Path],
    metrics: dict[str, dict[str, float]],
) -> str | None:
    """At the end of the pipeline (the compare stage): log the `params` (flattened, as
    seqcast.jobs.run_params.logged_params gives them) and the report `files` (files or
    folders) to the execution's parent run of `experiment`, created if no stage before
    made it (compare was the first to rerun), and settle it with each model's headline
    `metrics` ({model: {metric: value}}) and current run. Does nothing, and returns None,
    when there is no store yet (no model was ever evaluated here): a report alone creates
    none. Returns the parent's id."""
    workdir = Path.cwd()
    store_root = lineage.repository_root(workdir)
    uri = tracking_uri(store_root)
    database = store_lock.sqlite_path(uri)
    if database is not None and not database.is_file():
        return None
    execution = lineage.current_execution()
    raw = lineage.lock_hashes(workdir / "dvc.lock", "", [RAW_DATA]).get(RAW_DATA, "unknown")
    parent = _parent(workdir, execution, raw)
    with store_errors(uri), store_lock.exclusive(uri):
        experiment_id = use_experiment(experiment, store_root)
        client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        pipeline_run.close_abandoned(client, experiment_id, execution.host)
        end_abandoned_runs(experiment_id)
        parent_id = pipeline_run.find_or_create(
            client, experiment_id, execution, name=f"pipeline · {parent.label}", tags=parent.tags,
            dataset=None,
        )  # fmt: skip
        pipeline_run.log_params(client, parent_id, params)
        pipeline_run.log_report(client, parent_id, files)
        runs = current_runs(uri, experiment, workdir, list(metrics), {})
        pipeline_run.settle(client, parent_id, metrics, runs)
        return parent_id


def evaluation_run(uri: str, experiment: str, model: str, lock: Path) -> str | None:
    """The newest finished MLflow run of `model` whose lineage (its dvc_dep.* tags: the
    training code, data and params files, the saved model, windows, split and raw data)
    is what `lock` (dvc.lock) records now: the run that logged this exact model, whichever
    workspace or experiment ran it. None if the store holds none."""
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.model = '{model}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=100,
    )
    stages = lineage.read_lock(lock)  # once: up to 100 runs are compared with it
    for run in runs:
        recorded = {
            key.removeprefix(lineage.DEP_TAG): value
            for key, value in run.data.tags.items()
            if key.startswith(lineage.DEP_TAG)
        }
        if recorded and lineage.stage_hashes(stages, f"train@{model}", recorded) == recorded:
            return run.info.run_id
    return None
