"""Lineage: each MLflow run names its repository, experiment, commit and the dvc.lock hashes
of its inputs; writers to a local store take turns."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from seqcast.ops import lineage, store_lock, tracking

LOCK = textwrap.dedent(
    """\
    schema: '2.0'
    stages:
      window:
        cmd: python stages/window.py
        deps:
        - path: data/scaled/scaled.parquet
          hash: md5
          md5: aaa
        outs:
        - path: data/windows
          hash: md5
          md5: www.dir
          nfiles: 3
      train@lstm:
        cmd: python stages/train.py lstm
        deps:
        - path: data/windows
          hash: md5
          md5: www.dir
        - path: stages/train.py
          hash: md5
          md5: ttt
        outs:
        - path: data/models/lstm
          hash: md5
          md5: mmm.dir
    """
)


def test_lock_hashes_of_a_stage_and_of_the_inputs_upstream_stages_wrote(tmp_path):
    (tmp_path / "dvc.lock").write_text(LOCK)
    hashes = lineage.lock_hashes(
        tmp_path / "dvc.lock", "train@lstm", ["data/models/lstm", "./data/windows", "other.csv"]
    )
    assert hashes == {
        "data/models/lstm": "mmm.dir",
        "data/windows": "www.dir",
        "stages/train.py": "ttt",
    }
    assert lineage.dependency_tags(hashes) == {
        "dvc_dep.data/models/lstm": "mmm.dir",
        "dvc_dep.data/windows": "www.dir",
        "dvc_dep.stages/train.py": "ttt",
    }
    assert lineage.lock_hashes(tmp_path / "missing.lock", "train@lstm") == {}


def test_repository_root_is_dvc_root_even_from_a_queued_experiments_clone(tmp_path, monkeypatch):
    clone = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    clone.mkdir(parents=True)
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.setenv("DVC_ROOT", str(other))
    assert lineage.repository_root(clone) == other
    monkeypatch.delenv("DVC_ROOT")
    assert lineage.repository_root(clone) == tmp_path  # from the temporary clone's layout
    assert lineage.repository_root(other) == other


def test_experiment_tags_only_under_dvc_exp_run(monkeypatch):
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    assert lineage.experiment_tags() == {}
    monkeypatch.setenv("DVC_EXP_NAME", "sunny-lamb")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc123")
    assert lineage.experiment_tags() == {"dvc_exp_name": "sunny-lamb", "dvc_exp_baseline": "abc123"}


def test_git_state_names_the_dirty_paths_but_not_the_pipelines_own_writes(tmp_path):
    def git(*args: str) -> str:
        identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
        result = subprocess.run(
            ["git", *identity, *args], cwd=tmp_path, check=True, capture_output=True, text=True
        )
        return result.stdout.strip()

    git("init", "-q")
    for name in ("params.yaml", "dvc.lock", "src.py"):
        (tmp_path / name).write_text("a\n")
    git("add", "-A")
    git("commit", "-qm", "one")
    head = git("rev-parse", "HEAD")
    (tmp_path / "dvc.lock").write_text("b\n")
    assert tracking.git_state(tmp_path) == {"git_commit": head, "git_dirty": "false"}
    (tmp_path / "params.yaml").write_text("b\n")
    (tmp_path / "src.py").write_text("b\n")
    assert tracking.git_state(tmp_path) == {
        "git_commit": head,
        "git_dirty": "true",
        "git_dirty_paths": "params.yaml, src.py",
    }


def test_sqlite_path_of_store_uris(tmp_path):
    assert store_lock.sqlite_path(f"sqlite:///{tmp_path}/mlflow.db") == tmp_path / "mlflow.db"
    assert store_lock.sqlite_path("sqlite:///mlflow.db").as_posix() == "mlflow.db"
    assert store_lock.sqlite_path("http://mlflow.internal:5000") is None
    assert store_lock.sqlite_path("sqlite://") is None


HOLD_LOCK = """
import sys
from seqcast.ops import store_lock
with store_lock.exclusive(sys.argv[1]):
    print("inside", flush=True)
"""


def test_a_second_writer_waits_for_the_first(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with store_lock.exclusive(uri):
        child = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, uri],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The child says it waits, and it does: it is still running and has not got in.
        assert (
            child.stderr.readline()
            == f"waiting for another run to finish writing to {tmp_path}/mlflow.db\n"
        )
        assert child.poll() is None
    out, _ = child.communicate(timeout=60)
    assert (child.returncode, out) == (0, "inside\n")
    assert (tmp_path / "mlflow.db.lock").exists()


# The runs of the session's tiny pipeline.


@pytest.fixture(scope="module")
def runs(pipeline_repo):
    client = MlflowClient(tracking_uri=tracking.default_uri(pipeline_repo))
    experiment = client.get_experiment_by_name("seqcast")
    by_model = {}
    for path in sorted((pipeline_repo / tracking.RUN_RECORDS).glob("*.json")):
        run_id = yaml.safe_load(path.read_text())["run_id"]
        by_model[path.stem] = client.get_run(run_id)
    assert {r.info.experiment_id for r in by_model.values()} == {experiment.experiment_id}
    return client, by_model


def test_every_run_carries_the_lock_hashes_of_its_inputs(pipeline_repo, runs):
    _, by_model = runs
    lock = yaml.safe_load((pipeline_repo / "dvc.lock").read_text())["stages"]

    def md5(stage, kind, path):
        return next(e["md5"] for e in lock[stage][kind] if e["path"] == path)

    for name, run in by_model.items():
        tags = run.data.tags
        expected = {e["path"]: e["md5"] for e in lock[f"train@{name}"]["deps"]}
        expected |= {
            f"data/models/{name}": md5(f"train@{name}", "outs", f"data/models/{name}"),
            "data/windows": md5("window", "outs", "data/windows"),
            "data/split/split.parquet": md5("split", "outs", "data/split/split.parquet"),
            "data/raw/prices.parquet": md5("download", "outs", "data/raw/prices.parquet"),
        }
        logged = {
            k.removeprefix("dvc_dep."): v for k, v in tags.items() if k.startswith("dvc_dep.")
        }
        assert logged == expected, name
        assert set(expected) >= {"stages/train.py", f"stages/model_code/{name}"}
        # A plain `dvc repro`: no experiment.
        assert "dvc_exp_name" not in tags and "dvc_exp_baseline" not in tags


def test_every_run_keeps_the_exact_params_yaml_it_ran_with(pipeline_repo, runs, tmp_path):
    client, by_model = runs
    for name, run in by_model.items():
        listed = {a.path for a in client.list_artifacts(run.info.run_id, "lineage")}
        assert listed == {"lineage/params.yaml", "lineage/dvc.lock"}, name
        local = client.download_artifacts(run.info.run_id, "lineage/params.yaml", str(tmp_path))
        assert Path(local).read_bytes() == (pipeline_repo / "params.yaml").read_bytes()
