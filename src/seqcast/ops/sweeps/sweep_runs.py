"""MLflow for a sweep: one parent run per sweep, one child run per unit.

A child carries its unit's id as a tag (seqcast.unit), its ticker, model, config, seed
and fold as params and its metrics, logged in one batch, and its first-step forecasts as
predictions.csv. A unit tried again reuses its child, so a retried unit leaves exactly
one child, FINISHED.

Who writes: with a tracking server (MLFLOW_TRACKING_URI http(s)://...), each worker logs
its own child as its unit ends, so that the server, not the driver, takes the load. With
the local SQLite store only the driver writes (one writer at a time, under the store's
lock), after the units end; the workers never touch it.
"""

import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from seqcast.ops.sweeps.units import Task, Unit, node_name

# A server's client prints two links per run it ends: hundreds of lines for a sweep. The
# driver prints the parent's id instead.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

UNIT_TAG = "seqcast.unit"
PARENT_TAG = "mlflow.parentRunId"
KIND_TAG = "seqcast.kind"
METRICS = ("rmse", "mae", "mape", "r2", "mase", "skill_vs_naive", "directional_accuracy")


def workers_write(uri: str) -> bool:
    """Whether the store is a server that many workers can write to at once."""
    return uri.startswith(("http://", "https://"))


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _find_child(client: Any, experiment_id: str, parent: str, unit_id: str) -> Any:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.{PARENT_TAG} = '{parent}' and tags.`{UNIT_TAG}` = '{unit_id}'",
        max_results=1,
    )
    return runs[0] if runs else None


def _open_child(client: Any, experiment_id: str, parent: str, unit: Unit, unit_id: str) -> str:
    """The unit's child under `parent`: the one an earlier try made, or a new one."""
    existing = _find_child(client, experiment_id, parent, unit_id)
    if existing is not None:
        client.update_run(existing.info.run_id, status="RUNNING")
        return existing.info.run_id
    tags = {PARENT_TAG: parent, UNIT_TAG: unit_id, KIND_TAG: "sweep-unit"}
    return client.create_run(experiment_id, tags=tags, run_name=unit.label).info.run_id


def _log_row(client: Any, run_id: str, row: dict[str, Any], extra: dict[str, str]) -> None:
    """Params and metrics in one batch, then the forecasts as predictions.csv."""
    from mlflow.entities import Metric, Param, RunTag

    params = {k: str(row[k]) for k in ("ticker", "model", "seed", "origin", "unit_id")}
    params.update({f"config.{k}": str(v) for k, v in json.loads(row["config"]).items()})
    metrics = [Metric(name, float(row[name]), 0, 0) for name in METRICS if name in row]
    metrics.append(Metric("epochs", float(row["epochs"]), 0, 0))
    tags = [RunTag(k, v) for k, v in extra.items()]
    client.log_batch(
        run_id, metrics=metrics, params=[Param(k, v) for k, v in params.items()], tags=tags
    )
    client.log_text(run_id, predictions_csv(row), "predictions.csv")


def predictions_csv(row: dict[str, Any]) -> str:
    frame = pd.DataFrame({k: row[k] for k in ("dates", "actual", "predicted", "naive")})
    out = io.StringIO()
    frame.rename(columns={"dates": "date"}).to_csv(out, index=False)
    return out.getvalue()


@contextmanager
def worker_child(task: Task) -> Iterator[Callable[[dict[str, Any]], None]]:
    """In a worker: a `log(row)` that logs the unit's child run when workers write; the
    child ends FINISHED, or FAILED if the unit raises (a retry reuses it)."""
    where = task.tracking
    if not where:
        yield lambda row: None
        return
    client = _client(where["uri"])
    run = _open_child(client, where["experiment"], where["parent"], task.unit, task.unit_id)
    try:
        yield lambda row: _log_row(client, run, row, {"seqcast.ran_on": node_name()})
    except BaseException:
        client.set_terminated(run, status="FAILED")
        raise
    client.set_terminated(run, status="FINISHED")


@dataclass
class Parent:
    uri: str
    experiment_id: str
    run_id: str

    @property
    def for_workers(self) -> dict[str, str]:
        """What a Task carries: where workers log, or {} when only the driver writes."""
        if not workers_write(self.uri):
            return {}
        return {"uri": self.uri, "experiment": self.experiment_id, "parent": self.run_id}


def start_parent(
    experiment: str, name: str, params: dict[str, str], tags: dict[str, str]
) -> Parent:
    """The sweep's parent run, RUNNING, in `experiment` of the project's store."""
    from seqcast.ops import lineage, store_lock
    from seqcast.ops import tracking as store

    root = lineage.repository_root(Path.cwd())
    uri = store.tracking_uri(root)
    with store.store_errors(uri), store_lock.exclusive(uri):
        experiment_id = store.use_experiment(experiment, root)
        client = _client(uri)
        run = client.create_run(experiment_id, tags={KIND_TAG: "sweep", **tags}, run_name=name)
        from mlflow.entities import Param

        client.log_batch(run.info.run_id, params=[Param(k, v) for k, v in params.items()])
    return Parent(uri, experiment_id, run.info.run_id)


def log_children(parent: Parent, rows: list[dict[str, Any]], ran_on: dict[str, str]) -> None:
    """The driver's part: a FINISHED child for each row (`ran_on`: unit id -> where it ran,
    or "cache")."""
    from seqcast.ops import store_lock
    from seqcast.ops import tracking as store

    client = _client(parent.uri)
    with store.store_errors(parent.uri), store_lock.exclusive(parent.uri):
        for row in rows:
            unit = Unit.of_row(row)
            run = _open_child(client, parent.experiment_id, parent.run_id, unit, row["unit_id"])
            _log_row(client, run, row, {"seqcast.ran_on": ran_on.get(row["unit_id"], "cache")})
            client.set_terminated(run, status="FINISHED")


def finish_parent(
    parent: Parent, metrics: dict[str, float], files: list[Path], status: str = "FINISHED"
) -> None:
    from mlflow.entities import Metric

    from seqcast.ops import store_lock
    from seqcast.ops import tracking as store

    client = _client(parent.uri)
    with store.store_errors(parent.uri), store_lock.exclusive(parent.uri):
        batch = [Metric(k, float(v), 0, 0) for k, v in sorted(metrics.items())]
        for start in range(0, len(batch), 1000):
            client.log_batch(parent.run_id, metrics=batch[start : start + 1000])
        for path in files:
            client.log_artifact(parent.run_id, str(path))
        client.set_terminated(parent.run_id, status=status)
