"""Sweeps on real components, which the tests start and stop by process id (tests/servers.py):
a two-node Ray cluster on 127.0.0.1, and an MLflow tracking server on PostgreSQL with its
artifacts on moto's S3 server."""

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sweep_helpers import MARKERS, kaggle_csv, sweep_params

from seqcast.jobs.sweep import run_sweep
from seqcast.ops.sweeps import executors
from seqcast.ops.sweeps.sweep_runs import UNIT_TAG

pytest_plugins = ["servers"]
pytestmark = pytest.mark.slow


@pytest.fixture
def csv(tmp_path):
    return kaggle_csv(tmp_path / "all_stocks_5yr.csv")


def quiet(_: str) -> None:
    pass


def children(client, parent):
    experiment = client.get_run(parent).info.experiment_id
    return client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'", max_results=1000
    )


def test_the_local_pool_and_the_ray_cluster_give_identical_tables(csv, tmp_path, ray_cluster):
    params = sweep_params(csv)  # 2 tickers x (naive, linear x 2 configs, gru) x 2 seeds x 2 folds
    pool = executors.LocalPool(2)
    try:
        local = run_sweep(params, executor=pool, cache=tmp_path / "a", track=False, progress=quiet)
    finally:
        pool.close()
    with ray_cluster.driver_environment():
        cluster = executors.RayCluster(ray_cluster.address, cpus=1)
        try:
            assert "2 nodes" in cluster.description
            on_ray = run_sweep(
                params, executor=cluster, cache=tmp_path / "b", track=False, progress=quiet
            )
        finally:
            cluster.close()
    assert len(local.table) == len(on_ray.table) == 32 and on_ray.ran == 32
    pd.testing.assert_frame_equal(local.table, on_ray.table)
    assert local.summary == on_ray.summary
    assert len(set(on_ray.ran_on.values())) == 2  # units ran on both nodes


def test_workers_log_to_the_server_and_a_retried_unit_leaves_one_child(
    csv, tmp_path, mlflow_server, s3_server, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv(MARKERS, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    from sweep_helpers import fold_fails_once

    params = sweep_params(csv, models=["naive", "linear"], experiment="sweep-retry")
    pool = executors.LocalPool(2)
    try:
        run = run_sweep(
            params, executor=pool, cache=tmp_path / "units", run_unit=fold_fails_once,
            progress=quiet,
        )  # fmt: skip
    finally:
        pool.close()
    assert run.retried == 2 and run.ran == len(run.table) == 24
    client = MlflowClient(mlflow_server)
    parent = client.get_run(run.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {
        "results.parquet",
        "sweep.json",
    }
    kids = children(client, run.parent_run_id)
    assert len(kids) == 24 and {k.info.status for k in kids} == {"FINISHED"}
    ids = [k.data.tags[UNIT_TAG] for k in kids]
    assert sorted(ids) == sorted(run.table["unit_id"])  # one child per unit, the retried too
    # the workers wrote their own children: each names the process that ran it
    assert {k.data.tags["seqcast.ran_on"] for k in kids} == set(run.ran_on.values())
    kid = kids[0]
    assert kid.data.params["unit_id"] == kid.data.tags[UNIT_TAG]
    assert {"rmse", "skill_vs_naive", "epochs"} <= set(kid.data.metrics)
    local = client.download_artifacts(kid.info.run_id, "predictions.csv", str(tmp_path))
    frame = pd.read_csv(local)
    assert list(frame.columns) == ["date", "actual", "predicted", "naive"] and len(frame) == 30
    keys = [
        o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_server.bucket)["Contents"]
    ]
    assert sum(key.endswith("predictions.csv") for key in keys) >= 24

    # a third seed: only its units run; the new parent has a child for every unit
    more = sweep_params(csv, models=["naive", "linear"], seeds=[1, 2, 3], experiment="sweep-retry")
    pool = executors.LocalPool(2)
    try:
        again = run_sweep(more, executor=pool, cache=tmp_path / "units", progress=quiet)
    finally:
        pool.close()
    assert again.ran == 12 and len(again.table) == 36
    kids = children(client, again.parent_run_id)
    assert len(kids) == 36
    assert sum(k.data.tags["seqcast.ran_on"] == "cache" for k in kids) == 24


def test_ray_workers_log_their_children_to_the_server(csv, tmp_path, ray_cluster, mlflow_server,
                                                      monkeypatch):  # fmt: skip
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.chdir(tmp_path)
    params = sweep_params(csv, models=["naive", "linear"], experiment="sweep-ray")
    with ray_cluster.driver_environment():
        cluster = executors.RayCluster(ray_cluster.address, cpus=1)
        try:
            run = run_sweep(params, executor=cluster, cache=tmp_path / "units", progress=quiet)
        finally:
            cluster.close()
    kids = children(MlflowClient(mlflow_server), run.parent_run_id)
    assert len(kids) == 24 and {k.info.status for k in kids} == {"FINISHED"}
    nodes = {k.data.tags["seqcast.ran_on"] for k in kids}
    assert nodes == set(run.ran_on.values()) and len(nodes) == 2


def test_the_sweep_command_runs_the_sweep_and_prints_its_table(csv, tmp_path):
    import os
    import subprocess
    import sys

    import yaml
    from sweep_helpers import sweep_raw

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(sweep_raw(csv)))
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [sys.executable, "-m", "seqcast", "sweep", "--workers", "2", "--out", "out"]
    command += ["--set", "sweep.models=[naive, linear]", "--set", "sweep.seeds=[1]"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["ticker", "model", "best"]
    assert [line.split()[:2] for line in lines[1:5]] == [
        ["AAA", "linear"], ["AAA", "naive"], ["BBB", "linear"], ["BBB", "naive"]
    ]  # fmt: skip
    assert "12 units: 12 run on a local pool of 2 process(es), 0 from the cache" in done.stdout
    table = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(table) == 12 and set(table["seed"]) == {1}
    assert (tmp_path / "mlflow.db").is_file()  # the local store of the working directory


def test_a_worker_killed_mid_unit_breaks_the_pool_and_its_units_run_again(
    csv, tmp_path, monkeypatch
):
    from sweep_helpers import worker_dies_once

    monkeypatch.setenv(MARKERS, str(tmp_path))
    params = sweep_params(csv, models=["naive"], seeds=[1])
    pool = executors.LocalPool(2)
    try:
        run = run_sweep(
            params, executor=pool, cache=tmp_path / "units", run_unit=worker_dies_once,
            track=False, progress=quiet,
        )  # fmt: skip
    finally:
        pool.close()
    assert run.ran == len(run.table) == 4 and run.retried >= 1
    reference = run_sweep(params, executor=pool_of_one(), cache=tmp_path / "b", track=False,
                          progress=quiet)  # fmt: skip
    pd.testing.assert_frame_equal(run.table, reference.table)


def pool_of_one():
    return executors.LocalPool(1)
