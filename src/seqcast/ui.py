"""The MLflow UI over this repository's store, bound to the loopback interface only.

    python -m seqcast.ui [--port 5000]        # what `make ui` runs

The process becomes the MLflow tracking server (exec), which starts worker processes of
its own: whoever starts it in the background should give it its own process group and
stop the whole group.

The address it prints opens the experiment's runs in the UI's model-training view: the
MLflow 3 UI shows its GenAI view unless the page's address or the browser's last choice
of the sidebar switch says otherwise, whatever the experiment's mlflow.experimentKind tag.
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from seqcast import stage, store_lock, tracking
from seqcast.errors import SeqcastError
from seqcast.params import load_params

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


def experiment_url(root: Path, port: int) -> str:
    """The runs of the experiment in params.yaml in the model-training view; the list of
    experiments while the store does not hold it yet."""
    page = f"http://{HOST}:{port}/#/experiments"
    uri = tracking.tracking_uri(root)
    database = store_lock.sqlite_path(uri)
    if database is not None and database.is_file():
        tracking.check_store(uri)
        with tracking.store_errors(uri):
            name = load_params(root / "params.yaml").tracking.experiment
            experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name(name)
        if experiment is not None:
            page = f"{page}/{experiment.experiment_id}/runs"
    return f"{page}?{MODEL_TRAINING_VIEW}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1")
    args = parser.parse_args()
    if not 0 < args.port < 65536:
        raise SeqcastError(f"--port {args.port}: choose a port from 1 to 65535")
    command = server_command(Path.cwd(), args.port)
    url = experiment_url(Path.cwd(), args.port)
    print(f"MLflow UI on {url} (Ctrl-C stops it)", file=sys.stderr)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.execv(command[0], command)


if __name__ == "__main__":
    stage.run(main, "ui")
