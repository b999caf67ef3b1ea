"""MLflow tracking: where runs go, and one run per model with everything to reproduce it.

The default store is an SQLite database at the repository root (mlflow.db), with
artifacts under mlartifacts/; MLFLOW_TRACKING_URI points elsewhere (a team server).
The repository root is the user's, also when a queued DVC experiment runs the stage in a
temporary clone (seqcast.lineage), and writers to a local store take turns
(seqcast.store_lock).
"""

import hashlib
import json
import logging
import os
import socket
import sqlite3
import subprocess
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcast import lineage, store_lock
from seqcast.errors import SeqcastError
from seqcast.params import NETWORK_MODELS, Params

if TYPE_CHECKING:
    import torch

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow
import mlflow.pytorch
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"
MAX_BATCH = 1000
MAX_TAG_VALUE = 8000  # MLflow's limit
LINEAGE_FILES = ("params.yaml", "dvc.lock")  # logged as artifacts under lineage/
PIPELINE_WRITES = (":!dvc.lock", ":!reports")
OWNER_HOST, OWNER_PID = "seqcast.host", "seqcast.pid"  # the process that logs a run
# How long the store check waits on another program's lock: long enough to ride out a
# parallel run's write (milliseconds), short enough to fail once and clearly; MLflow
# itself waits 20 s per statement.
LOCK_WAIT_S = 5.0
# Which run each model's last evaluation logged. Not a DVC output: a run id is new on every
# run, and outputs must be what the committed code and params reproduce, digit for digit.
RUN_RECORDS = Path(".seqcast") / "runs"


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
        if experiment is not None:
            return experiment.experiment_id
        # The default database keeps its artifacts next to it, not in ./mlruns of the cwd; a
        # server chooses its own artifact store.
        local = uri == default_uri(root)
        location = (root / DEFAULT_ARTIFACTS).resolve().as_uri() if local else None
        try:
            return mlflow.create_experiment(name, artifact_location=location)
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


def flatten(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(name, value))
        else:
            flat[name] = value
    return flat


@contextmanager
def model_run(experiment: str, root: Path, run_name: str, tags: dict[str, str]) -> Iterator[Any]:
    """An MLflow run that ends FINISHED, or FAILED on an exception or a stop signal (the
    stage turns SIGTERM into one); a run left RUNNING by a killed process (kill -9, a
    power cut) is ended FAILED by the next run of the same model on this machine."""
    experiment_id = use_experiment(experiment, root)
    end_abandoned_runs(experiment_id, tags["model"])
    owner = {OWNER_HOST: socket.gethostname(), OWNER_PID: str(os.getpid())}
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags={**tags, **owner}
    ) as run:
        yield run


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def end_abandoned_runs(experiment_id: str, model: str) -> list[str]:
    """End FAILED the RUNNING runs of `model` whose process on this machine is gone."""
    client = mlflow.tracking.MlflowClient()
    running = client.search_runs(
        [experiment_id], filter_string=f"tags.model = '{model}' and attributes.status = 'RUNNING'"
    )
    ended = []
    for run in running:
        tags = run.data.tags
        if tags.get(OWNER_HOST) != socket.gethostname() or not tags.get(OWNER_PID, "").isdigit():
            continue  # another machine's run, or one made before these tags existed
        if not _alive(int(tags[OWNER_PID])):
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
    for start in range(0, len(metrics), MAX_BATCH):  # the REST API's limit per call
        client.log_batch(run_id, metrics=metrics[start : start + MAX_BATCH])


def record_model_run(
    *,
    name: str,
    params: Params,
    metrics: dict[str, float],
    history: dict[str, Any],
    report_dir: Path,
    model_dir: Path,
    raw_data: Path,
    net: "torch.nn.Module | None" = None,
    input_example: np.ndarray | None = None,
    inputs: Sequence[Path] = (),
) -> str:
    """One MLflow run for one model: params, loss per epoch, metrics, artifacts, lineage.

    `inputs` are the files and directories the evaluation read; their md5 from dvc.lock
    is tagged with those of train@name's dependencies.
    """
    workdir = Path.cwd()  # where the stage runs: a temporary clone under a queued experiment
    store_root = lineage.repository_root(workdir)
    hashes = lineage.lock_hashes(workdir / "dvc.lock", f"train@{name}", inputs)
    tags = {
        "model": name,
        "dvc_stages": f"train@{name} evaluate@{name}",
        # The same md5 that dvc.lock records for the raw data.
        "data_md5": hashlib.md5(raw_data.read_bytes()).hexdigest(),
        **git_state(workdir),
        **lineage.experiment_tags(),
        **lineage.dependency_tags(hashes),
    }
    logged = params.model_dump(include={"data", "features", "split", "scale", "window"})
    if name in NETWORK_MODELS:  # with the model's own overrides applied
        logged["train"] = params.train_for(name).model_dump()
    own = params.model_params(name).model_dump(exclude={"train"})
    logged["model"] = {"name": name, **own}
    with (
        store_errors(tracking_uri(store_root)),
        store_lock.exclusive(tracking_uri(store_root)),
        model_run(params.tracking.experiment, store_root, name, tags) as run,
    ):
        mlflow.log_params(flatten("", logged))
        for lineage_file in LINEAGE_FILES:
            if (workdir / lineage_file).is_file():
                mlflow.log_artifact(str(workdir / lineage_file), "lineage")
        log_history(history)
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(report_dir), "report")
        mlflow.log_artifacts(str(model_dir), "seqcast_model")
        if net is not None:
            import torch

            with warnings.catch_warnings():
                # torch.export notes that nn.RNN re-assigns its flat weights while tracing;
                # the exported program still predicts identically (checked in the tests).
                warnings.filterwarnings("ignore", message="The tensor attributes self.rnn")
                mlflow.pytorch.log_model(
                    net,
                    name=name,
                    input_example=input_example.astype("float32"),
                    pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
                )
        return run.info.run_id
