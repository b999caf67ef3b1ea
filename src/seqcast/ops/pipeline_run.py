"""The parent MLflow run of one pipeline execution, under which each model's run is nested.

DVC runs evaluate@model once per model, each in its own process, and compare last; none of
them sees the others, and DVC skips any of them whose inputs did not change. So each of
them finds the execution's parent by the execution's key (seqcast.ops.lineage.Execution),
creating it if it is the first, reopens it while it logs, and ends it FINISHED with the
whole leaderboard (settle): every enabled model's headline metrics, rerun or not, and a tag
naming each model's current run. Whichever stage of an execution runs last leaves it
complete, also when compare is skipped or is the only stage that runs; compare adds the
report and the params. The caller holds the store's lock (seqcast.ops.store_lock), so
that two stages never both create one.

A parent whose execution process is gone while it is still RUNNING (killed mid-stage) is
ended by the next execution on the same machine: FINISHED when every model run under it
finished, FAILED otherwise.
"""

import time
from collections.abc import Iterable
from pathlib import Path

from mlflow.entities import DatasetInput, Metric, Param, Run, RunTag
from mlflow.tracking import MlflowClient
from mlflow.tracking.context import registry as context_registry
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from mlflow.utils.validation import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
)

from seqcast.ops.lineage import Execution, process_running

KIND_TAG = "seqcast.kind"  # pipeline (the parent) or model (a child)
EXECUTION_TAG = "seqcast.execution"  # Execution.key
HOST_TAG, PID_TAG, STARTED_TAG = "seqcast.host", "seqcast.pid", "seqcast.pid_started"
COMMAND_TAG = "seqcast.command"
CURRENT_RUN_TAG = "seqcast.run."  # seqcast.run.<model>: the run that logged the model as it is
MODELS_TAG = "seqcast.models"  # the leaderboard's models
NO_RUN = "none in this store"  # a model whose current run this store does not hold
ENDED_TAG = "seqcast.ended"  # why a run was ended by another process than its own
PIPELINE, MODEL = "pipeline", "model"
REPORT_ARTIFACTS = "report"
TRUNCATED = "..."


def log_params(client: MlflowClient, run_id: str, params: dict[str, str]) -> None:
    """Every param, in batches of MLflow's size; a value over MLflow's length limit is cut
    (the run's lineage/params.yaml artifact keeps it whole)."""
    entries = [
        Param(key, value if len(value) <= MAX_PARAM_VAL_LENGTH else _cut(value))
        for key, value in sorted(params.items())
    ]
    for start in range(0, len(entries), MAX_PARAMS_TAGS_PER_BATCH):
        client.log_batch(run_id, params=entries[start : start + MAX_PARAMS_TAGS_PER_BATCH])


def _cut(value: str) -> str:
    return value[: MAX_PARAM_VAL_LENGTH - len(TRUNCATED)] + TRUNCATED


def _pipeline_filter(extra: str) -> str:
    return f"tags.`{KIND_TAG}` = '{PIPELINE}' and {extra}"


def find(client: MlflowClient, experiment_id: str, execution: Execution) -> Run | None:
    """The parent run of `execution`, if one of its model runs made it."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=_pipeline_filter(f"tags.`{EXECUTION_TAG}` = '{execution.key}'"),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def find_or_create(
    client: MlflowClient,
    experiment_id: str,
    execution: Execution,
    *,
    name: str,
    tags: dict[str, str],
    dataset: DatasetInput | None,
) -> str:
    """The id of `execution`'s parent run, RUNNING again if a stage before settled it;
    created, with its tags and dataset (if given), by the first stage of the execution that
    logs (the compare stage logs its params)."""
    found = find(client, experiment_id, execution)
    if found is not None:
        if found.info.status != "RUNNING":
            client.update_run(found.info.run_id, status="RUNNING")
        return found.info.run_id
    owner = {
        KIND_TAG: PIPELINE,
        EXECUTION_TAG: execution.key,
        HOST_TAG: execution.host,
        PID_TAG: str(execution.pid),
        STARTED_TAG: execution.started,
        COMMAND_TAG: execution.command[:1000],
    }
    # The user and source tags that mlflow.start_run adds too.
    resolved = context_registry.resolve_tags({**tags, **owner})
    run = client.create_run(experiment_id, run_name=name, tags=resolved)
    run_id = run.info.run_id
    if dataset is not None:
        client.log_inputs(run_id, datasets=[dataset])
    return run_id


def _children(client: MlflowClient, run: Run) -> list[Run]:
    return client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{run.info.run_id}'",
        max_results=1000,
    )


def close_abandoned(client: MlflowClient, experiment_id: str, host: str) -> list[str]:
    """End the RUNNING parents on `host` whose execution process is gone: FINISHED when
    every model run under them finished, FAILED otherwise. Returns their ids."""
    running = client.search_runs(
        [experiment_id],
        filter_string=_pipeline_filter(
            f"tags.`{HOST_TAG}` = '{host}' and attributes.status = 'RUNNING'"
        ),
        max_results=1000,
    )
    ended = []
    for run in running:
        tags = run.data.tags
        if not tags.get(PID_TAG, "").isdigit() or process_running(
            int(tags[PID_TAG]), tags.get(STARTED_TAG, "")
        ):
            continue
        children = _children(client, run)
        done = bool(children) and all(c.info.status == "FINISHED" for c in children)
        client.set_tag(
            run.info.run_id,
            ENDED_TAG,
            f"its execution ({tags.get(COMMAND_TAG, 'a pipeline process')}) ended before a "
            "stage closed it" + ("" if done else "; a model run under it did not finish"),
        )
        client.set_terminated(run.info.run_id, status="FINISHED" if done else "FAILED")
        ended.append(run.info.run_id)
    return ended


def fail(client: MlflowClient, run_id: str, why: str) -> None:
    """End the parent FAILED: one of its model runs failed, so the execution stops."""
    client.set_tag(run_id, ENDED_TAG, why)
    client.set_terminated(run_id, status="FAILED")


def log_report(client: MlflowClient, run_id: str, files: Iterable[Path]) -> None:
    """The comparison report (files and folders) as the parent's artifacts."""
    for path in files:
        if path.is_dir():
            client.log_artifacts(run_id, str(path), f"{REPORT_ARTIFACTS}/{path.name}")
        elif path.is_file():
            client.log_artifact(run_id, str(path), REPORT_ARTIFACTS)


def settle(
    client: MlflowClient,
    run_id: str,
    leaderboard: dict[str, dict[str, float]],
    current_runs: dict[str, str | None],
) -> None:
    """Log the whole `leaderboard` ({model: {metric: value}}) as <model>.<metric> and each
    model's current run as a tag, and end the parent FINISHED."""
    now = int(time.time() * 1000)
    entries = [
        Metric(f"{model}.{key}", float(value), now, 0)
        for model, values in sorted(leaderboard.items())
        for key, value in sorted(values.items())
    ]
    for start in range(0, len(entries), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=entries[start : start + MAX_METRICS_PER_BATCH])
    tags = {f"{CURRENT_RUN_TAG}{m}": run or NO_RUN for m, run in sorted(current_runs.items())}
    tags[MODELS_TAG] = ", ".join(leaderboard)
    client.log_batch(run_id, tags=[RunTag(key, value) for key, value in tags.items()])
    client.set_terminated(run_id, status="FINISHED")
