"""Reproduce an MLflow run: its commit, its params, a fresh pipeline run, the same numbers?

    seqcast reproduce RUN_ID

Takes the run's commit (tag git_commit) and its exact params.yaml (artifact
lineage/params.yaml), runs the pipeline up to evaluate@<model> from scratch in a
throwaway copy (seqcast.ops.sandbox), and compares the fresh run with the original: every
metric (final test metrics and the last training / validation loss), every logged
param, and the lineage hashes (data_md5, dvc_dep.*). Exit code 0 when all are identical,
1 when anything differs (the differences are listed), 2 when the run cannot be
reproduced (unknown run, commit not in the repository, no params artifact).
"""

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from seqcast.errors import SeqcastError
from seqcast.ops import lineage, sandbox, store_lock, tracking

log = logging.getLogger(__name__)

PARAMS_ARTIFACT = "lineage/params.yaml"
LINEAGE_TAGS = ("data_md5",)
RESTORED = {"params.yaml"}  # uncommitted changes the run's artifacts bring back


@dataclass(frozen=True)
class Difference:
    kind: str  # metric | param | lineage
    key: str
    original: str
    reproduced: str


def _lineage(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k in LINEAGE_TAGS or k.startswith(lineage.DEP_TAG)}


def _compared(run: Run) -> dict[str, dict[str, object]]:
    return {
        "metric": run.data.metrics,
        "param": run.data.params,
        "lineage": _lineage(run.data.tags),
    }


def counts(run: Run) -> str:
    """What a comparison covers, e.g. '8 metrics, 25 params, 9 lineage hashes'."""
    sizes = {kind: len(values) for kind, values in _compared(run).items()}
    return f"{sizes['metric']} metrics, {sizes['param']} params, {sizes['lineage']} lineage hashes"


def differences(original: Run, reproduced: Run) -> list[Difference]:
    """Every metric, param and lineage hash of either run that the other does not match
    exactly."""
    found = []
    before_all, after_all = _compared(original), _compared(reproduced)
    for kind, before in before_all.items():
        after = after_all[kind]
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                found.append(
                    Difference(kind, key, str(before.get(key, "-")), str(after.get(key, "-")))
                )
    return found


def fetch_run(client: MlflowClient, run_id: str) -> Run:
    try:
        return client.get_run(run_id)
    except MlflowException:
        raise SeqcastError(f"run {run_id!r} not found in {client.tracking_uri}") from None


def fetch_params(client: MlflowClient, run_id: str, dest: Path) -> Path:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one small file
    try:
        return Path(client.download_artifacts(run_id, PARAMS_ARTIFACT, str(dest)))
    except (MlflowException, OSError):
        raise SeqcastError(
            f"run {run_id} has no {PARAMS_ARTIFACT} artifact (it predates lineage logging), "
            "so its params cannot be restored exactly"
        ) from None


def dirty_note(tags: dict[str, str]) -> str:
    if tags.get("git_dirty") != "true":
        return ""
    paths = [p for p in tags.get("git_dirty_paths", "").split(", ") if p]
    lost = [p for p in paths if p not in RESTORED]
    if paths and not lost:
        return ""
    listed = ", ".join(lost) if lost else "files not recorded"
    return (
        f"note: the run's working tree had uncommitted changes ({listed}) that are not "
        "restored; metrics may differ because of them"
    )


def format_differences(found: list[Difference]) -> str:
    header = ("kind", "key", "original", "reproduced")
    rows = [(d.kind, d.key, d.original, d.reproduced) for d in found]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def reproduce(run_id: str, root: Path) -> tuple[list[Difference], str]:
    """The differences between the run and its reproduction, and what was compared."""
    uri = tracking.tracking_uri(root)
    database = store_lock.sqlite_path(uri)
    if database is not None and not database.is_file():
        raise SeqcastError(
            f"no MLflow store at {database}: run the pipeline first, or point "
            "MLFLOW_TRACKING_URI at the store that holds the run"
        )
    client = MlflowClient(tracking_uri=uri)
    original = fetch_run(client, run_id)
    tags = original.data.tags
    model, commit = tags.get("model"), tags.get("git_commit")
    if not model or not commit or commit == "unknown":
        raise SeqcastError(f"run {run_id} has no model or git_commit tag: not a seqcast run")
    experiment = f", DVC experiment {tags['dvc_exp_name']}" if "dvc_exp_name" in tags else ""
    log.info("reproduce: run %s: %s at commit %s%s", run_id, model, commit[:12], experiment)
    note = dirty_note(tags)
    if note:
        log.warning("%s", note)

    download = Path(tempfile.mkdtemp(prefix="seqcast-params-"))
    try:
        params_file = fetch_params(client, run_id, download)
        with sandbox.commit_copy(root, commit) as copy:
            shutil.copyfile(params_file, copy / "params.yaml")
            sandbox.run_pipeline(copy, f"evaluate@{model}")
            fresh_id = tracking.recorded_run_id(copy, model)
            fresh = MlflowClient(tracking_uri=tracking.default_uri(copy)).get_run(fresh_id)
    finally:
        shutil.rmtree(download, ignore_errors=True)
    return differences(original, fresh), counts(original)


def outcome(run_id: str, found: list[Difference], compared: str) -> str:
    """What the command prints: the table of differences, if any, and the verdict line."""
    if not found:
        return f"reproduce: run {run_id}: identical ({compared})"
    verdict = f"reproduce: run {run_id}: {len(found)} difference(s) (of {compared})"
    return f"{format_differences(found)}\n{verdict}"
