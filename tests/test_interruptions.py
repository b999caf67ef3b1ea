"""A stage stopped part-way: its MLflow run ends FAILED, its half-written output goes away.

SIGTERM and Ctrl-C unwind the stage (seqcast.stage), so that MLflow's run context ends the
run FAILED and the temporary output is removed. kill -9 cannot be caught: the run it
leaves RUNNING is ended FAILED, and its temporary folder removed, by the next run.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from repo_helpers import ROOT

from seqcast import atomic
from seqcast.ops import tracking

pytestmark = pytest.mark.slow  # runs the pipeline or stage processes end to end

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from seqcast import atomic, stage
    from seqcast.ops import tracking

    def main():
        root = Path.cwd()
        with atomic.atomic_dir(root / "out") as tmp:
            (tmp / "half.json").write_text("{")
            with tracking.model_run("faults", root, "lstm", {"model": "lstm"}) as run:
                (root / "run_id").write_text(run.info.run_id)
                time.sleep(120)  # stopped here, in the middle of logging

    stage.run(main, "evaluate")
    """
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def start_child(workdir: Path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=workdir, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not (workdir / "run_id").exists():
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, "the child never started its run"
        time.sleep(0.2)
    return child


def status(workdir: Path, run_id: str) -> str:
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    return mlflow.tracking.MlflowClient().get_run(run_id).info.status


def leftovers(workdir: Path) -> list[str]:
    return sorted(p.name for p in workdir.glob(".out.*.tmp"))


def test_sigterm_ends_the_run_failed_and_leaves_nothing_half_written(workdir):
    child = start_child(workdir)
    child.send_signal(signal.SIGTERM)
    _, stderr = child.communicate(timeout=60)

    assert child.returncode == 130
    assert stderr.strip().splitlines()[-1] == (
        "seqcast evaluate: interrupted by SIGTERM; nothing was written"
    )
    assert "Traceback" not in stderr
    assert status(workdir, (workdir / "run_id").read_text()) == "FAILED"
    assert leftovers(workdir) == [] and not (workdir / "out").exists()


def test_after_kill_9_the_next_run_ends_the_abandoned_one_and_clears_its_output(workdir):
    child = start_child(workdir)
    child.kill()  # SIGKILL: nothing in the child runs any more
    child.wait(timeout=30)
    abandoned = (workdir / "run_id").read_text()
    assert status(workdir, abandoned) == "RUNNING"
    assert len(leftovers(workdir)) == 1

    os.chdir(workdir)
    try:
        with atomic.atomic_dir(workdir / "out") as tmp:
            (tmp / "done.json").write_text("{}")
            with tracking.model_run("faults", workdir, "lstm", {"model": "lstm"}) as run:
                fresh = run.info.run_id
    finally:
        os.chdir(ROOT)

    assert status(workdir, abandoned) == "FAILED"
    client = mlflow.tracking.MlflowClient()
    assert client.get_run(abandoned).data.tags["seqcast.abandoned"] == "its process was killed"
    assert status(workdir, fresh) == "FINISHED"
    assert leftovers(workdir) == []
    assert sorted(p.name for p in (workdir / "out").iterdir()) == ["done.json"]


def test_a_live_run_of_another_process_is_left_alone(workdir):
    child = start_child(workdir)
    try:
        mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
        experiment = mlflow.get_experiment_by_name("faults").experiment_id
        assert tracking.end_abandoned_runs(experiment, "lstm") == []
        assert status(workdir, (workdir / "run_id").read_text()) == "RUNNING"
    finally:
        child.kill()
        child.wait(timeout=30)


def test_evaluations_and_reports_persist_and_skip_the_run_cache():
    """persist: DVC neither deletes the last good outputs before a stage runs nor restores
    them from its run-cache without running it, so each execution logs its MLflow run."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    evaluate = stages["evaluate"]["do"]["outs"]
    assert evaluate == [{"reports/models/${item}": {"persist": True}}]
    for stage in ("compare", "forecast"):
        outs = stages[stage]["outs"] + stages[stage].get("metrics", [])
        for out in outs:
            ((path, options),) = out.items()
            assert options.get("persist") is True, f"{stage}: {path}"
