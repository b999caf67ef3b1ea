"""The real servers of tests/servers.py work together: MLflow tracks nested runs in
PostgreSQL with artifacts in S3 (moto), and a Ray cluster spreads tasks over its two nodes."""

import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow
pytest_plugins = ["servers"]


def test_mlflow_server_keeps_nested_runs_in_postgres_and_artifacts_in_s3(
    mlflow_server, s3_server, tmp_path
):
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment_id = client.create_experiment("servers-smoke")
    parent = client.create_run(experiment_id, run_name="parent").info.run_id
    children = {}
    for index in range(2):
        child = client.create_run(
            experiment_id, run_name=f"child-{index}", tags={"mlflow.parentRunId": parent}
        ).info.run_id
        client.log_param(child, "index", index)
        client.log_metric(child, "loss", 1.0 / (index + 1))
        note = tmp_path / f"note-{index}.txt"
        note.write_text(f"child {index}\n")
        client.log_artifact(child, str(note))
        client.set_terminated(child)
        children[child] = index
    client.set_terminated(parent)

    found = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    assert {run.info.run_id for run in found} == set(children)
    for run in found:
        index = children[run.info.run_id]
        assert run.data.params == {"index": str(index)}
        assert run.data.metrics == {"loss": 1.0 / (index + 1)}
        assert [artifact.path for artifact in client.list_artifacts(run.info.run_id)] == [
            f"note-{index}.txt"
        ]
    child, index = next(iter(children.items()))
    downloaded = client.download_artifacts(child, f"note-{index}.txt", str(tmp_path / "back"))
    assert Path(downloaded).read_text() == f"child {index}\n"

    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket)
    keys = {entry["Key"] for entry in listed["Contents"]}
    for child, index in children.items():
        assert f"{experiment_id}/{child}/artifacts/note-{index}.txt" in keys


def test_ray_cluster_runs_tasks_on_both_nodes(ray_cluster):
    import ray

    @ray.remote(num_cpus=1)
    def node_of_task() -> str:
        time.sleep(0.5)
        return ray.get_runtime_context().get_node_id()

    with ray_cluster.driver_environment():
        ray.init(address=ray_cluster.address, log_to_driver=False)
        try:
            nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
            assert len(nodes) == 2
            assert set(ray.get([node_of_task.remote() for _ in range(8)])) == nodes
        finally:
            ray.shutdown()
