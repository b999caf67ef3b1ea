"""MLflow tracking: where runs go, and one run per model with everything to reproduce it.

The default store is an SQLite database at the repository root (mlflow.db), with
artifacts under mlartifacts/; MLFLOW_TRACKING_URI points elsewhere (a team server).
The repository root is the user's, also when a queued DVC experiment runs the stage in a
temporary clone (seqcast.lineage), and writers to a local store take turns
(seqcast.store_lock).
"""

import hashlib
import os
import subprocess
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqcast import lineage, store_lock
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


def default_uri(root: Path) -> str:
    return f"sqlite:///{(root / DEFAULT_DB).resolve()}"


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or default_uri(root)


def use_experiment(name: str, root: Path) -> str:
    """Point MLflow at the store and experiment, creating either on first use."""
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    # The default database keeps its artifacts next to it, not in ./mlruns of the cwd; a
    # server chooses its own artifact store.
    local = uri == default_uri(root)
    location = (root / DEFAULT_ARTIFACTS).resolve().as_uri() if local else None
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except MlflowException:  # created meanwhile by a parallel run
        return mlflow.get_experiment_by_name(name).experiment_id


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
    experiment_id = use_experiment(experiment, root)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
        yield run


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
