"""A throwaway copy of the repository to run the pipeline in, from scratch.

The metric gate's profiles and the reproduction of an MLflow run both need a whole
pipeline run with other params, without touching the working tree's params.yaml,
dvc.lock, reports or MLflow store. A copy (of the working tree, or of a commit) in a
temporary directory gives exactly that:

- no dvc.lock and an empty DVC cache (no run-cache either), so every stage really runs;
- its own git repository with one commit, so the lineage tags have a commit to name;
- its own MLflow store: DVC_ROOT and MLFLOW_TRACKING_URI are cleared for its stages, so
  their runs land in the copy's mlflow.db, which goes away with the copy.
"""

import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from seqcast.errors import SeqcastError

log = logging.getLogger(__name__)

PIPELINE_STATE = "dvc.lock"
# Set by DVC or the user for the outer run; inside the copy they would send the copy's
# MLflow runs to the outer store or tag them with the outer experiment.
OUTER_RUN_VARIABLES = (
    "DVC_ROOT",
    "DVC_STAGE",
    "DVC_EXP_NAME",
    "DVC_EXP_BASELINE_REV",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
)


def _git(root: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, **kwargs)


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`update` over `base`: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in update.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = merge(base[key], value) if nested else value
    return merged


def copy_worktree(root: Path, dest: Path) -> None:
    """Copy what git sees in the working tree: tracked files as they are now, and untracked
    files that are not ignored (never .venv, data outputs, mlflow.db). A link stays a link
    (stages/model_code/<name> links to the files a model runs, for dvc.yaml)."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed.returncode != 0:
        raise SeqcastError(f"{root}: not a git repository: {listed.stderr.decode().strip()}")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = root / name
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name, follow_symlinks=False)


def export_commit(root: Path, commit: str, dest: Path) -> None:
    """The files of `commit`, as `git archive` gives them."""
    if _git(root, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise SeqcastError(f"commit {commit} is not in the repository at {root}; fetch it first")
    archive = _git(root, "archive", "--format=tar", commit)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        # The "data" filter refuses links and paths out of `dest`; Python < 3.11.4 has no
        # filters (and `git archive` of our own commit writes neither).
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)


def _make_repository(path: Path) -> None:
    (path / PIPELINE_STATE).unlink(missing_ok=True)
    identity = ["-c", "user.name=seqcast", "-c", "user.email=seqcast@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-verify", "-m", "copy"]):
        result = _git(path, *identity, *args)
        if result.returncode != 0:
            raise SeqcastError(f"git {args[0]} in {path} failed: {result.stderr.decode()}")


@contextmanager
def _temporary(fill: Callable[[Path], None]) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="seqcast-sandbox-"))
    try:
        fill(path)
        _make_repository(path)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def worktree_copy(root: Path) -> Iterator[Path]:
    """A copy of the working tree (uncommitted changes included), removed afterwards."""
    with _temporary(lambda path: copy_worktree(root, path)) as path:
        yield path


@contextmanager
def commit_copy(root: Path, commit: str) -> Iterator[Path]:
    """A copy of the files of `commit`, removed afterwards."""
    with _temporary(lambda path: export_commit(root, commit, path)) as path:
        yield path


def write_params(repo: Path, params: dict[str, Any]) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def pipeline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OUTER_RUN_VARIABLES}
    # Stage commands say `python`: make it this environment's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def run_pipeline(repo: Path, *targets: str) -> None:
    """`dvc repro [targets]` in the copy; its output goes to stderr as it comes."""
    env = pipeline_env()
    dvc = shutil.which("dvc", path=env["PATH"]) or "dvc"
    command = [dvc, "repro", *targets]
    log.info("seqcast: running the pipeline in a throwaway copy, %s", repo)
    log.debug("%s", " ".join(command))
    # File descriptor 2: DVC's progress shows up as it comes, and stdout stays for results.
    result = subprocess.run(command, cwd=repo, env=env, stdout=2)
    if result.returncode != 0:
        raise SeqcastError(
            f"the pipeline failed in the throwaway copy (exit code {result.returncode}); "
            "its output is above"
        )
