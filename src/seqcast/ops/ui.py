"""The MLflow UI over this repository's store, bound to the loopback interface only.

    seqcast ui [--port 5000]        # what `make ui` runs

The process becomes the MLflow tracking server (exec), which starts worker processes of
its own: whoever starts it in the background should give it its own process group and
stop the whole group.

The address it prints opens the experiment's runs in the UI's model-training view: the
MLflow 3 UI shows its GenAI view unless the page's address or the browser's last choice
of the sidebar switch says otherwise, whatever the experiment's mlflow.experimentKind tag.
"""

import logging
import os
import shutil
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from seqcast.errors import SeqcastError
from seqcast.ops import store_lock, tracking

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MODEL_TRAINING_VIEW = "workflowType=machine_learning"


def server_command(root: Path, port: int) -> list[str]:
    uri = tracking.tracking_uri(root)
    if not uri.startswith("sqlite:"):
        raise SeqcastError(
            f"MLFLOW_TRACKING_URI = {uri!r}: runs go to a tracking server; open it instead"
        )
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    return [
        mlflow,
        "server",
        "--backend-store-uri",
        uri,
        # Experiments created from the UI keep their artifacts where the pipeline's do.
        "--artifacts-destination",
        (root / tracking.DEFAULT_ARTIFACTS).resolve().as_uri(),
        "--host",
        HOST,
        "--port",
        str(port),
        # One worker: the server is slow to start on small machines, and one user needs one.
        "--workers",
        "1",
    ]


def experiment_url(root: Path, port: int, experiment: str) -> str:
    """The runs of `experiment` (tracking.experiment) in the model-training view; the list
    of experiments while the store does not hold it yet."""
    page = f"http://{HOST}:{port}/#/experiments"
    uri = tracking.tracking_uri(root)
    database = store_lock.sqlite_path(uri)
    if database is not None and database.is_file():
        tracking.check_store(uri)
        with tracking.store_errors(uri):
            found = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment)
        if found is not None:
            page = f"{page}/{found.experiment_id}/runs"
    return f"{page}?{MODEL_TRAINING_VIEW}"


def serve(root: Path, port: int, experiment: str) -> None:
    """Become the MLflow UI over `root`'s store on 127.0.0.1:`port`, opening on the runs of
    `experiment` (exec: never returns)."""
    if not 0 < port < 65536:
        raise SeqcastError(f"--port {port}: choose a port from 1 to 65535")
    command = server_command(root, port)
    url = experiment_url(root, port, experiment)
    log.info("MLflow UI on %s (Ctrl-C stops it)", url)
    log.debug("%s", " ".join(command))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        os.execv(command[0], command)
    except OSError as exc:
        raise SeqcastError(
            f"cannot start {command[0]}: {exc.strerror}; install mlflow in this environment"
        ) from None
