"""Lineage of a stage run: which repository it belongs to, which DVC experiment, which inputs.

DVC sets, for every stage command it runs (dvc/stage/run.py and
dvc/repo/experiments/queue/base.py in DVC 3.67):

- DVC_ROOT: the root of the user's repository. Under `dvc exp run --queue` (or --temp)
  the stage runs in a temporary clone, .dvc/tmp/exps/<tmpdir>, yet DVC_ROOT still names
  the original repository: that is where the MLflow store is.
- DVC_EXP_NAME and DVC_EXP_BASELINE_REV: under `dvc exp run`, queued or not, the
  experiment's name and the commit it starts from.
- DVC_STAGE: the stage being run, e.g. evaluate@lstm.

dvc.lock is rewritten after each stage, so when evaluate@model runs, the lock entries of
train@model and of every stage upstream describe exactly the inputs it reads.
"""

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

EXPERIMENT_TAGS = {"DVC_EXP_NAME": "dvc_exp_name", "DVC_EXP_BASELINE_REV": "dvc_exp_baseline"}
DEP_TAG = "dvc_dep."
EXPS_DIR = (".dvc", "tmp", "exps")  # where DVC puts the temporary clones of experiments


def repository_root(cwd: Path | None = None) -> Path:
    """The user's repository: DVC_ROOT when DVC runs the stage; else the directory above
    .dvc/tmp/exps when the working directory is a temporary experiment clone; else cwd."""
    cwd = (cwd or Path.cwd()).resolve()
    declared = os.environ.get("DVC_ROOT")
    if declared and Path(declared).is_dir():
        return Path(declared).resolve()
    for parent in cwd.parents:
        if parent.parts[-len(EXPS_DIR) :] == EXPS_DIR:
            return Path(*parent.parts[: -len(EXPS_DIR)])
    return cwd


def experiment_tags() -> dict[str, str]:
    """dvc_exp_name and dvc_exp_baseline when the stage runs under `dvc exp run`."""
    return {tag: os.environ[var] for var, tag in EXPERIMENT_TAGS.items() if os.environ.get(var)}


def _hashes(entries: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {entry["path"]: entry["md5"] for entry in entries if "md5" in entry}


def lock_hashes(lock: Path, stage: str, inputs: Iterable[str | Path] = ()) -> dict[str, str]:
    """{path: md5} from dvc.lock for every dependency of `stage`, and for each of `inputs`
    as the output of the stage that wrote it. Empty when there is no dvc.lock (a stage run
    by hand, outside DVC)."""
    if not lock.is_file():
        return {}
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    outputs = {}
    for entry in stages.values():
        outputs.update(_hashes(entry.get("outs", [])))
    hashes = _hashes(stages.get(stage, {}).get("deps", []))
    for path in inputs:
        name = Path(path).as_posix()
        if name in outputs:
            hashes[name] = outputs[name]
    return dict(sorted(hashes.items()))


def dependency_tags(hashes: dict[str, str]) -> dict[str, str]:
    return {f"{DEP_TAG}{path}": md5 for path, md5 in hashes.items()}
