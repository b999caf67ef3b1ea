"""Lineage of a stage run: which repository it belongs to, which pipeline execution and DVC
experiment, which params that execution changed, which inputs.

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

DVC runs every stage of one execution as a child process (through a shell) of one DVC
process: `dvc repro`, `dvc exp run` (the experiment runs inside it, in the workspace or a
temporary directory), or, for queued experiments, one `dvc exp exec-run` per experiment,
started by the queue's worker (dvc/repo/experiments/queue/tasks.py). That process, told
apart from a later one with the same pid by its start time, identifies the execution.
"""

import json
import os
import re
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
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


def read_lock(lock: Path) -> dict[str, Any]:
    """dvc.lock's stages; empty when there is no dvc.lock (a stage run by hand)."""
    if not lock.is_file():
        return {}
    # libyaml's parser: dvc.lock runs to thousands of lines, 0.26 s in PyYAML's own, 0.03 here
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return (yaml.load(lock.read_text(), Loader=loader) or {}).get("stages", {})


def lock_hashes(lock: Path, stage: str, inputs: Iterable[str | Path] = ()) -> dict[str, str]:
    """{path: md5} from dvc.lock for every dependency of `stage`, and for each of `inputs`
    as the output of the stage that wrote it. Empty when there is no dvc.lock (a stage run
    by hand, outside DVC)."""
    return stage_hashes(read_lock(lock), stage, inputs)


def stage_hashes(
    stages: dict[str, Any], stage: str, inputs: Iterable[str | Path] = ()
) -> dict[str, str]:
    """lock_hashes of the stages that read_lock gave."""
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


# The DVC commands that run stages: `dvc <words...>`, aliases included.
EXECUTION_COMMANDS = (
    ("repro",),
    ("exp", "run"),
    ("exp", "exec-run"),
    ("experiments", "run"),
    ("experiments", "exec-run"),
)
DVC_GLOBAL_OPTIONS_WITH_VALUE = ("--cd",)
UNCHANGING_SECTIONS = ("gate", "tracking")  # params.yaml sections that change no result


@dataclass(frozen=True)
class Execution:
    """One pipeline execution: the DVC process that runs its stages, or, for a stage run by
    hand, the stage's own process."""

    host: str
    pid: int
    started: str  # the process's start time: a pid reused later is another execution
    command: str  # e.g. "dvc exp run", or the stage's own command line
    experiment: str = ""  # DVC_EXP_NAME

    @property
    def key(self) -> str:
        # Safe inside an MLflow filter string: no quotes.
        experiment = re.sub(r"[^\w.@+-]", "_", self.experiment)
        return ":".join(filter(None, (self.host, str(self.pid), self.started, experiment)))

    def running(self) -> bool:
        return process_running(self.pid, self.started)


def dvc_command(cmdline: list[str]) -> str | None:
    """ "dvc repro", "dvc exp run", ... when `cmdline` runs a DVC command that runs stages
    (as `dvc ...`, `python .../bin/dvc ...` or `python -m dvc ...`); None otherwise."""
    for i, arg in enumerate(cmdline):
        if Path(arg).name not in ("dvc", "dvc.exe"):
            continue
        words, rest = [], iter(cmdline[i + 1 :])
        for word in rest:
            if word in DVC_GLOBAL_OPTIONS_WITH_VALUE:
                next(rest, None)
            elif not word.startswith("-"):
                words.append(word)
        for command in EXECUTION_COMMANDS:
            if tuple(words[: len(command)]) == command:
                return " ".join(("dvc", *command))
        return None
    return None


def start_time(process: psutil.Process) -> str:
    """When `process` started, as the tags record it: with its pid, it names the process."""
    return f"{process.create_time():.2f}"


def process_running(pid: int, started: str) -> bool:
    """Whether the process `pid` that started at `started` (see Execution) still runs."""
    try:
        process = psutil.Process(pid)
        return start_time(process) == started and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process, alive
        return True


def current_execution() -> Execution:
    """The execution this process's stage belongs to: its nearest ancestor that runs a DVC
    command that runs stages; else (a stage run by hand) this process."""
    process = psutil.Process()
    found, command = process, " ".join(process.cmdline())
    for ancestor in process.parents():
        try:
            dvc = dvc_command(ancestor.cmdline())
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if dvc:
            found, command = ancestor, dvc
            break
    return Execution(
        host=socket.gethostname(),
        pid=found.pid,
        started=start_time(found),
        command=command,
        experiment=os.environ.get("DVC_EXP_NAME", ""),
    )


def flatten(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """{"a.b.c": value} from nested dicts; lists and other values are leaves."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(name, value))
        else:
            flat[name] = value
    return flat


def param_text(value: Any) -> str:
    """A param value as text: strings as they are, anything else as JSON (true, null, [1, 2])."""
    return value if isinstance(value, str) else json.dumps(value)


def baseline_rev() -> str:
    """The commit the execution's params are compared with: the experiment's baseline under
    `dvc exp run`, else HEAD."""
    return os.environ.get("DVC_EXP_BASELINE_REV") or "HEAD"


def changed_params(workdir: Path, baseline: str | None = None) -> list[str] | None:
    """ "key=value" for each param of workdir/params.yaml that differs from the baseline
    commit's (gate and tracking left out: they change no result); None when the baseline's
    params.yaml cannot be read (no git, a file not committed)."""
    baseline = baseline or baseline_rev()
    shown = subprocess.run(
        ["git", "show", f"{baseline}:params.yaml"], cwd=workdir, capture_output=True, text=True
    )
    if shown.returncode != 0:
        return None

    def flat(text: str) -> dict[str, Any]:
        raw = yaml.safe_load(text) or {}
        return flatten("", {k: v for k, v in raw.items() if k not in UNCHANGING_SECTIONS})

    before, after = flat(shown.stdout), flat((workdir / "params.yaml").read_text())
    missing = object()
    changed = []
    for key in sorted(set(before) | set(after)):
        value = after.get(key, missing)
        if value != before.get(key, missing):
            changed.append(f"{key}={'(removed)' if value is missing else param_text(value)}")
    return changed
