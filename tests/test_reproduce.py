"""`seqcast reproduce RUN_ID`: the run's commit and params, a fresh pipeline run
in a throwaway copy, and an exact comparison, without touching the repository."""

import json
import sys
from types import SimpleNamespace

import pytest
import yaml
from mlflow.tracking import MlflowClient
from repo_helpers import run

from seqcast import cli
from seqcast.errors import SeqcastError
from seqcast.jobs import reproduce
from seqcast.ops import tracking


def _run(metrics=None, params=None, tags=None) -> SimpleNamespace:
    """The part of an MLflow Run that the comparison reads."""
    return SimpleNamespace(
        data=SimpleNamespace(metrics=metrics or {}, params=params or {}, tags=tags or {})
    )


def test_differences_lists_every_mismatch_of_metrics_params_and_lineage():
    original = _run(
        {"rmse": 1.5, "mae": 1.0, "val_loss": 0.25},
        {"train.seed": "42", "window.length": "10"},
        {"data_md5": "aaa", "dvc_dep.data/windows": "www.dir", "git_commit": "c1", "model": "gru"},
    )
    fresh = _run(
        {"rmse": 1.5000000000000002, "mae": 1.0},
        {"train.seed": "42", "window.length": "10"},
        {"data_md5": "bbb", "dvc_dep.data/windows": "www.dir", "git_commit": "c2", "model": "gru"},
    )
    found = reproduce.differences(original, fresh)
    assert found == [
        reproduce.Difference("metric", "rmse", "1.5", "1.5000000000000002"),  # exact, no tolerance
        reproduce.Difference("metric", "val_loss", "0.25", "-"),
        reproduce.Difference("lineage", "data_md5", "aaa", "bbb"),
    ]  # the commit of the throwaway copy is its own: not a lineage difference
    assert reproduce.counts(original) == "3 metrics, 2 params, 2 lineage hashes"
    assert reproduce.format_differences(found).splitlines() == [
        "kind     key       original  reproduced",
        "metric   rmse      1.5       1.5000000000000002",
        "metric   val_loss  0.25      -",
        "lineage  data_md5  aaa       bbb",
    ]


def test_differences_mean_exit_code_1_and_a_table(monkeypatch, capsys):
    found = [reproduce.Difference("metric", "rmse", "1.5", "1.6")]
    monkeypatch.setattr(reproduce, "reproduce", lambda run_id, root: (found, "1 metrics"))
    assert cli.main(["reproduce", "abc"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "kind    key   original  reproduced",
        "metric  rmse  1.5       1.6",
        "reproduce: run abc: 1 difference(s) (of 1 metrics)",
    ]


@pytest.mark.parametrize(
    ("tags", "note"),
    [
        ({"git_dirty": "false"}, ""),
        ({"git_dirty": "true", "git_dirty_paths": "params.yaml"}, ""),  # restored from artifact
        (
            {"git_dirty": "true", "git_dirty_paths": "params.yaml, src/seqcast/data/features.py"},
            "note: the run's working tree had uncommitted changes (src/seqcast/data/features.py) "
            "that are not restored; metrics may differ because of them",
        ),
        (
            {"git_dirty": "true"},
            "note: the run's working tree had uncommitted changes (files not recorded) "
            "that are not restored; metrics may differ because of them",
        ),
    ],
)
def test_dirty_note_names_what_cannot_be_restored(tags, note):
    assert reproduce.dirty_note(tags) == note


def _reproduce(repo, run_id: str):
    return run(repo, sys.executable, "-m", "seqcast", "reproduce", run_id)


def _error(run_id: str, root) -> str:
    with pytest.raises(SeqcastError) as info:
        reproduce.reproduce(run_id, root)
    return str(info.value)


def test_no_store_unknown_run_and_run_without_params_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert _error("0123abcd", tmp_path) == (
        f"no MLflow store at {tmp_path / 'mlflow.db'}: run the pipeline first, or point "
        "MLFLOW_TRACKING_URI at the store that holds the run"
    )
    assert not (tmp_path / "mlflow.db").exists()

    uri = tracking.default_uri(tmp_path)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("seqcast", artifact_location=tmp_path.as_uri())
    assert _error("0123abcd", tmp_path) == f"run '0123abcd' not found in {uri}"

    bare = client.create_run(experiment, tags={"model": "gru", "git_commit": "abc123"})
    assert _error(bare.info.run_id, tmp_path) == (
        f"run {bare.info.run_id} has no lineage/params.yaml artifact "
        "(it predates lineage logging), so its params cannot be restored exactly"
    )
    nameless = client.create_run(experiment)
    assert _error(nameless.info.run_id, tmp_path) == (
        f"run {nameless.info.run_id} has no model or git_commit tag: not a seqcast run"
    )


def test_a_run_of_the_pipeline_reproduces_identically(pipeline_repo):
    run_id = tracking.recorded_run_id(pipeline_repo, "lstm")
    lock = (pipeline_repo / "dvc.lock").read_bytes()
    client = MlflowClient(tracking_uri=tracking.default_uri(pipeline_repo))
    runs_before = len(client.search_runs(client.get_experiment_by_name("seqcast").experiment_id))

    result = _reproduce(pipeline_repo, run_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Running stage 'train@lstm'" in result.stderr  # trained again, from scratch
    original = client.get_run(run_id)
    assert result.stdout.splitlines() == [
        f"reproduce: run {run_id}: identical ({reproduce.counts(original)})"
    ]
    # Every test metric of the report, the intervals' test coverage, and the last train
    # and val loss.
    reported = json.loads((pipeline_repo / "reports/models/lstm/metrics.json").read_text())
    coverage = {"test_coverage_80", "test_coverage_95"}
    assert set(original.data.metrics) == {*reported, *coverage, "train_loss", "val_loss"}
    # The dvc.lock hash of each of train@lstm's dependencies and of each file evaluate read.
    train_deps = yaml.safe_load(lock)["stages"]["train@lstm"]["deps"]
    read = ["data/models/lstm", "data/windows", "data/split/split.parquet"]
    read += ["data/raw/prices.parquet"]
    tagged = {k.removeprefix("dvc_dep.") for k in original.data.tags if k.startswith("dvc_dep.")}
    assert tagged == {dep["path"] for dep in train_deps} | set(read)

    # The repository is left as it was: same lock, no new run in its store.
    assert (pipeline_repo / "dvc.lock").read_bytes() == lock
    assert len(client.search_runs(client.get_experiment_by_name("seqcast").experiment_id)) == (
        runs_before
    )
