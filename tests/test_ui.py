"""`make ui`: the MLflow tracking server over the repository's store, on the loopback
interface; its REST API serves the runs of a pipeline execution, nested under the
execution's parent run; stopping its process group leaves nothing running.

mlflow_ui serves a repository's store for other tests too (test_queue).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from repo_helpers import subprocess_env

from seqcast.ops import pipeline_run, tracking

STARTUP_S = 180  # the server takes a while to start on 2 busy cores
LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _group_members(pgid: int) -> list[int]:
    """Processes of the group that still run (a zombie has exited, only not been reaped)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid pgrp ...; comm may hold spaces, so split after ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _listening_addresses(port: int) -> set[str]:
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


def _wait_until_up(server: subprocess.Popen, base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the server exited:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the server did not answer within {STARTUP_S} s:\n{log.read_text()}")


def _stop_group(server: subprocess.Popen) -> list[int]:
    """SIGTERM to the server's whole group; whatever is left after 30 s is killed and returned."""
    pgid = server.pid
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _group_members(pgid) and time.monotonic() < deadline:
        server.poll()  # reap the server itself once it exits
        time.sleep(0.5)
    left = _group_members(pgid)
    if left:
        os.killpg(pgid, signal.SIGKILL)
    return left


@dataclass
class Served:
    base: str
    port: int
    server: subprocess.Popen
    log: Path

    def rest(self, path: str, body: dict | None = None) -> dict:
        return _get(f"{self.base}/api/2.0/mlflow/{path}", body)

    def experiment(self, name: str) -> dict:
        return self.rest(f"experiments/get-by-name?experiment_name={name}")["experiment"]

    def runs(self, experiment_id: str) -> list[dict]:
        found = self.rest("runs/search", {"experiment_ids": [experiment_id], "max_results": 1000})
        return found.get("runs", [])


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


def params(run: dict) -> dict[str, str]:
    return {p["key"]: p["value"] for p in run["data"].get("params", [])}


def metrics(run: dict) -> dict[str, float]:
    """The run's metrics, rounded as the reports write them (6 significant digits)."""
    return {m["key"]: float(f"{m['value']:.6g}") for m in run["data"].get("metrics", [])}


@contextmanager
def mlflow_ui(repo: Path, log: Path) -> Iterator[Served]:
    """`seqcast ui` over `repo`'s store, in its own process group, up and
    answering; on exit the whole group is stopped, and nothing of it may be left."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "seqcast", "ui", "--port", str(port)],
            cwd=repo,
            env=subprocess_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the server's workers join it
        )
    try:
        _wait_until_up(server, base, log)
        yield Served(base, port, server, log)
    finally:
        left = _stop_group(server)
        server.wait(timeout=30)
    assert left == [], f"still running after SIGTERM to the group: {left}"


def test_ui_serves_the_pipeline_runs_over_rest_and_stops_with_its_group(pipeline_repo, tmp_path):
    with mlflow_ui(pipeline_repo, tmp_path / "server.log") as ui:
        assert _listening_addresses(ui.port) == {LOOPBACK_HEX}
        experiment = ui.experiment("seqcast")["experiment_id"]
        # The address it prints opens the experiment's runs in the model-training view.
        assert (
            f"MLflow UI on {ui.base}/#/experiments/{experiment}/runs"
            "?workflowType=machine_learning (Ctrl-C stops it)"
        ) in ui.log.read_text()
        served = {r["info"]["run_id"]: r for r in ui.runs(experiment)}
        head = subprocess.run(
            ["git", "rev-parse", "--short=7", "HEAD"],
            cwd=pipeline_repo,
            capture_output=True,
            text=True,
        ).stdout.strip()
        records = sorted((pipeline_repo / tracking.RUN_RECORDS).glob("*.json"))
        for record in records:
            report = pipeline_repo / "reports/models" / record.stem
            run = served[json.loads(record.read_text())["run_id"]]
            assert tags(run)["model"] == report.name
            expected = json.loads((report / "metrics.json").read_text())
            assert {k: metrics(run)[k] for k in expected} == expected, report.name
            # Nested under the parent run of the execution that made it, and named after it.
            parent = served[tags(run)["mlflow.parentRunId"]]
            assert tags(parent)[pipeline_run.KIND_TAG] == "pipeline"
            execution = tags(run)[pipeline_run.EXECUTION_TAG]
            assert tags(parent)[pipeline_run.EXECUTION_TAG] == execution
            label = run["info"]["run_name"].removeprefix(f"{report.name} · ")
            assert label.startswith(head)
            assert parent["info"]["run_name"] == f"pipeline · {label}"
            if report.name != "naive":  # it has no params of its own
                assert any(key.startswith(f"{report.name}.") for key in params(parent))

        # The session's `dvc repro` of every model: one parent over all of their runs.
        children: dict[str, set[str]] = {}
        for run in served.values():
            parent_id = tags(run).get("mlflow.parentRunId")
            if parent_id:
                children.setdefault(parent_id, set()).add(tags(run)["model"])
        assert {record.stem for record in records} in children.values()
    assert _group_members(ui.server.pid) == []
    assert _listening_addresses(ui.port) == set()
