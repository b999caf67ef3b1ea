"""Is the committed state the reproduced state? `seqcast check-lock`, run by CI.

Compares what git holds (code, params, the sample data and the reports committed beside
them) with what dvc.lock records for each stage, without running anything. A stage output
that DVC does not keep in git (data/, reports/models/), and a folder that holds such
outputs (data/models, data/backtest), is missing or partial in a fresh clone and is not a
difference. Also finds entries of dvc.lock for stages that dvc.yaml no longer has (DVC
keeps them), and leftovers of stages that no longer exist (a backtest fold
or a model taken out of params) inside a folder that a stage depends on whole: they enter
that folder's hash here, but not in a fresh clone. Exit 1, with the list and what to do,
when anything differs.
"""

import json
import logging
import subprocess
import sys
from pathlib import Path

import yaml

from seqcast.errors import SeqcastError

log = logging.getLogger(__name__)
MATCH = "lock check: dvc.lock and the committed reports match the committed code, params and data"
STALE = (
    "lock check: dvc.lock does not describe what is committed; run `make repro` and "
    "commit dvc.lock and reports/ with your change. Differences:"
)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _git_tracked(paths: set[str]) -> set[str]:
    """The paths under which git holds a file; the .gitignore files DVC writes beside
    its outputs do not count."""
    if not paths:
        return set()
    listed = subprocess.run(
        ["git", "ls-files", "--", *sorted(paths)], capture_output=True, text=True, check=True
    ).stdout.split()
    kept = [f for f in listed if Path(f).name != ".gitignore"]
    return {p for p in paths if any(_inside(f, p) for f in kept)}


def _stage_outputs(lock: dict) -> list[str]:
    return [out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]


def removed_stages(lock: dict, stages: list[str]) -> list[str]:
    """Entries of dvc.lock for stages that dvc.yaml (`stages`, as `dvc stage list`
    names them) no longer has."""
    return [
        f"{name}: in dvc.lock, not in dvc.yaml (delete its entry from dvc.lock)"
        for name in lock["stages"]
        if name not in stages
    ]


def stale_entries(status: dict, lock: dict) -> list[str]:
    """'stage: path (what)' for every tracked input or committed output that dvc.lock
    does not describe; `status` is `dvc status --json`, `lock` is dvc.lock."""
    outputs = _stage_outputs(lock)

    def produced(path: str) -> bool:  # an output, inside one, or a folder holding one
        return any(_inside(path, out) or _inside(out, path) for out in outputs)

    found: list[tuple[str, str, str]] = []
    for stage, changes in status.items():
        for change in changes:
            if not isinstance(change, dict):  # "changed command", "always changed"
                found.append((stage, "cmd", str(change)))
                continue
            for kind, entries in change.items():
                if kind == "changed deps":
                    for path, what in entries.items():
                        if isinstance(what, dict):  # params.yaml: {key: modified}
                            found += [(stage, f"{path}: {key}", v) for key, v in what.items()]
                        elif not produced(path):
                            found.append((stage, path, what))
                elif kind == "changed outs":
                    found += [(stage, path, what) for path, what in entries.items()]
    committed_outs = _git_tracked({path for _, path, _ in found if produced(path)})
    return [
        f"{stage}: {path} ({what})"
        for stage, path, what in found
        if not produced(path.split(":")[0]) or path in committed_outs
    ]


def leftovers(lock: dict, root: Path) -> list[str]:
    """Files in a folder that some stage depends on whole, and that holds stage outputs,
    which no current stage writes (nor is the .gitignore DVC keeps beside an output)."""
    outputs = _stage_outputs(lock)
    folders = {
        dep["path"]
        for stage in lock["stages"].values()
        for dep in stage.get("deps", [])
        if "nfiles" in dep and any(_inside(out, dep["path"]) for out in outputs)
    }
    found = []
    for folder in sorted(folders):
        for file in sorted((root / folder).rglob("*")):
            path = file.relative_to(root).as_posix()
            if not file.is_file() or any(_inside(path, out) for out in outputs):
                continue
            beside_output = any(_inside(out, str(Path(path).parent)) for out in outputs)
            if not (file.name == ".gitignore" and beside_output):
                found.append(f"{folder}: {path} (no stage writes it; delete it)")
    return found


def _dvc(*args: str) -> str:
    command = [sys.executable, "-m", "dvc", *args]
    log.debug("%s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SeqcastError(f"dvc {' '.join(args)} failed (exit {result.returncode}): {last}")
    return result.stdout


def differences() -> list[str]:
    """Everything committed in the current directory, the repository's root, that its
    dvc.lock does not describe; empty when it matches."""
    if not Path("dvc.lock").is_file():
        raise SeqcastError("dvc.lock: not found; run from the repository root")
    status = json.loads(_dvc("status", "--json") or "{}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: 8 times faster
    lock = yaml.load(Path("dvc.lock").read_text(), Loader=loader)
    stages = _dvc("stage", "list", "--name-only").split()
    return removed_stages(lock, stages) + stale_entries(status, lock) + leftovers(lock, Path.cwd())
