"""`make ui`: the MLflow tracking server over the repository's store, on the loopback
interface; its REST API serves the runs of a pipeline execution; stopping its process
group leaves nothing running."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from repo_helpers import subprocess_env

from seqcast import tracking

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


def test_ui_serves_the_pipeline_runs_over_rest_and_stops_with_its_group(pipeline_repo, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "seqcast.ui", "--port", str(port)],
            cwd=pipeline_repo,
            env=subprocess_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the server's workers join it
        )
    try:
        _wait_until_up(server, base, log)
        assert _listening_addresses(port) == {LOOPBACK_HEX}

        experiment = _get(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=seqcast")
        found = _get(
            f"{base}/api/2.0/mlflow/runs/search",
            {"experiment_ids": [experiment["experiment"]["experiment_id"]], "max_results": 100},
        )
        served = {r["info"]["run_id"]: r for r in found["runs"]}
        for record in sorted((pipeline_repo / tracking.RUN_RECORDS).glob("*.json")):
            report = pipeline_repo / "reports/models" / record.stem
            run_id = json.loads(record.read_text())["run_id"]
            run = served[run_id]
            tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
            assert tags["model"] == report.name
            metrics = {m["key"]: float(f"{m['value']:.6g}") for m in run["data"]["metrics"]}
            expected = json.loads((report / "metrics.json").read_text())
            assert {k: metrics[k] for k in expected} == expected, report.name
    finally:
        left = _stop_group(server)
        server.wait(timeout=30)
    assert left == [], f"still running after SIGTERM to the group: {left}"
    assert _group_members(server.pid) == []
    assert _listening_addresses(port) == set()
