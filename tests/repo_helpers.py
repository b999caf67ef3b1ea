"""Helpers for tests that run the real pipeline: a git copy of the repository, tiny params.

The session fixture `pipeline_repo` (conftest.py) runs `dvc repro` once on TINY params;
tests that change that repository's state work on `clone_repo(pipeline_repo, ...)`.
"""

import os
import runpy
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pandas as pd
import yaml

from seqcast.models import model_class, model_names
from seqcast.ops import sandbox

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# The PyTorch networks share one code path (seqcast.models.recurrent_net), and so do the
# NumPy ones: lstm and numpy_gru stand for them in the pipeline (each network is fit, saved,
# loaded and scored in tests/test_model_contract.py and test_numpy_models.py; the seeds test
# of test_pipeline.py trains gru through DVC).
NOT_IN_TINY = {"rnn", "gru", "numpy_rnn", "numpy_lstm"}
# Tiny networks: every other registered model, those trained by epochs with 8 hidden units;
# two backtest folds.
TINY = {
    "window": {"length": 10, "horizon": 1},
    "train": {"max_epochs": 3, "patience": 2, "batch_size": 128},
    "backtest": {"origins": [2, 1]},
    # data.ticker of any source, the baselines, one seed and fold: 2 units
    "sweep": {
        "tickers": [],
        "models": ["naive", "linear"],
        "seeds": [42],
        "origins": [1],
        "space": {},
    },
    "models": {
        "enabled": [name for name in model_names() if name not in NOT_IN_TINY],
        **{
            name: {"hidden_size": 8}
            for name in model_names()
            if model_class(name).trained_by_epochs
            and "hidden_size" in model_class(name).Config.model_fields
        },
    },
}


def subprocess_env() -> dict[str, str]:
    # Not the stores that in-process tests pointed MLflow at (set_tracking_uri and
    # set_registry_uri also set these variables).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=subprocess_env(), capture_output=True, text=True)


merge = sandbox.merge


def write_params(repo: Path, update: dict) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump(merge(merge(params, TINY), update)))


def commit(repo: Path, message: str) -> None:
    for command in (["git", "add", "-A"], ["git", "commit", "-qm", message]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *command[1:]], cwd=repo, check=True
        )


def copy_repository(dest: Path) -> Path:
    sandbox.copy_worktree(ROOT, dest)
    generated = ("comparison.md", "comparison.html", "metrics.json", "figures", "forecast")
    generated += ("backtest.json", "seeds.json", "per_step.json", "significance.json")
    generated += ("predictions.csv", "plots", "intervals.json")
    for path in ("dvc.lock", *(f"reports/{name}" for name in generated)):
        target = dest / path
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    commit(dest, "copy")
    return dest


def clone_repo(source: Path, dest: Path, *, store: bool = True) -> Path:
    """A copy of a pipeline repository with its git history, outputs, DVC cache and MLflow
    store, as a user's clone is after `make repro`: the store's runs, logged models and
    registered versions point at the copy's own artifacts. `store=False`: an empty store.
    DVC's state (.dvc/tmp) stays behind; the copy's DVC hashes its files afresh."""
    skip = ["tmp"] if store else ["tmp", "mlflow.db*", "mlartifacts"]
    ignore = shutil.ignore_patterns(*skip)
    shutil.copytree(source, dest, symlinks=True, ignore=ignore, dirs_exist_ok=True)
    if store and (dest / "mlflow.db").is_file():
        relocate_store(dest, source.resolve().as_uri(), dest.resolve().as_uri())
    return dest


def relocate_store(repo: Path, old: str, new: str) -> None:
    """Point the artifact URIs of repo's SQLite store (and its models' MLmodel files) from
    the `old` repository root URI to the `new` one."""
    with closing(sqlite3.connect(repo / "mlflow.db")) as db, db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in [row[1] for row in db.execute(f"PRAGMA table_info('{table}')")]:
                db.execute(
                    f'UPDATE \'{table}\' SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                    (old + "/", new + "/", old + "/"),
                )
    for mlmodel in (repo / "mlartifacts").rglob("MLmodel"):
        mlmodel.write_text(mlmodel.read_text().replace(old + "/", new + "/"))


def run_stage(workdir: Path, name: str, *args: str) -> None:
    """Run stages/<name>.py in this process, in `workdir`, as DVC runs the stage's command."""
    cwd, argv = Path.cwd(), sys.argv
    os.chdir(workdir)
    sys.argv = [f"stages/{name}.py", *args]
    try:
        runpy.run_path(str(ROOT / "stages" / f"{name}.py"), run_name="__main__")
    finally:
        os.chdir(cwd)
        sys.argv = argv


def prepare_windows(workdir: Path, params: dict, prices: pd.DataFrame) -> None:
    """The stages from raw prices to windows, on `prices`, with params.yaml ⊕ `params`."""
    workdir.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    (workdir / "params.yaml").write_text(yaml.safe_dump(merge(base, params)))
    (workdir / "data/raw").mkdir(parents=True, exist_ok=True)
    prices.to_parquet(workdir / "data/raw/prices.parquet", index=False)
    run_stage(workdir, "featurize", "data/raw/prices.parquet", "data/features/features.parquet")
    run_stage(
        workdir,
        "split",
        "data/features/features.parquet",
        "data/split/split.parquet",
        "data/split/ranges.json",
    )
    run_stage(
        workdir,
        "scale",
        "data/split/split.parquet",
        "data/scaled/scaled.parquet",
        "data/scaled/scaler.json",
    )
    run_stage(
        workdir,
        "window",
        "data/scaled/scaled.parquet",
        "data/split/split.parquet",
        "data/scaled/scaler.json",
        "data/windows",
    )


def train(workdir: Path, model: str, out: str | None = None) -> Path:
    out = out or f"data/models/{model}"
    run_stage(workdir, "train", model, "data/windows", out)
    return workdir / out
