"""Real servers for the tests that need them: PostgreSQL, an S3 (moto), an MLflow tracking
server on both, and a two-node Ray cluster, each a session-scoped pytest fixture.

A test module uses them with `pytest_plugins = ["servers"]`. Each fixture starts its
processes in a fresh temporary directory of its own, with their logs there, on free loopback
ports; waits until they answer (or fails with the tail of their log); and on teardown stops
exactly the processes it started, found by process id: the ones it launched, everything they
started in turn, and anything whose command line names its directory. Nothing is stopped by
name (`pkill`, `ray stop`), which would reach other people's servers on the same machine.
A fixture skips only when its component is not installed.
"""

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import psutil
import pytest

LOOPBACK = "127.0.0.1"
BUCKET = "mlflow-artifacts"
# What moto accepts and boto3 sends; nothing reaches AWS.
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Seconds a server gets to answer: MLflow migrates a fresh database first, 30 s and more
# on 2 cores.
POSTGRES_START_S = 60
S3_START_S = 60
MLFLOW_START_S = 180
RAY_START_S = 120
# Seconds between the polite signal and SIGKILL on teardown.
STOP_GRACE_S = 15
# Ray's minimum; the default (30% of RAM per node) is far more than a test needs.
RAY_OBJECT_STORE_BYTES = 78_643_200


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on (at the time of asking)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _failure(what: str, problem: str, logs: Sequence[Path]) -> RuntimeError:
    tails = "".join(f"\n--- {log.name} (last lines) ---\n{_tail(log)}" for log in logs)
    return RuntimeError(f"{what} {problem}{tails}")


def _wait_until(
    ready: Callable[[], bool],
    what: str,
    timeout_s: float,
    processes: Sequence[subprocess.Popen],
    logs: Sequence[Path],
) -> None:
    """Poll `ready` until it is true. Fails with the tails of `logs` when one of `processes`
    exits first or `timeout_s` passes."""
    start = time.monotonic()
    while not ready():
        for process in processes:
            if process.poll() is not None:
                raise _failure(what, f"exited with {process.returncode}", logs)
        if time.monotonic() - start > timeout_s:
            raise _failure(what, f"did not answer within {timeout_s} s", logs)
        time.sleep(0.2)


def _answers(url: str) -> bool:
    """Whether an HTTP server answers `url` at all (an error status is an answer)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _family(processes: Sequence[subprocess.Popen], marker: str) -> list[psutil.Process]:
    """`processes`, everything they started, and every process (with what it started) whose
    command line contains `marker`, a fixture's own temporary directory."""
    roots = []
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            roots.append(psutil.Process(process.pid))
    for candidate in psutil.process_iter(["cmdline"]):
        if candidate.pid != os.getpid() and marker in " ".join(candidate.info["cmdline"] or ()):
            roots.append(candidate)
    family = {}
    for root in roots:
        family[root.pid] = root
        with suppress(psutil.NoSuchProcess):
            family.update((child.pid, child) for child in root.children(recursive=True))
    return list(family.values())


def _stop(
    processes: Sequence[subprocess.Popen],
    marker: str,
    polite: signal.Signals = signal.SIGTERM,
    whole_group: bool = False,
) -> None:
    """Stop what `_family` finds. `polite` goes to each launched process (to its whole process
    group, each being a session of its own, with `whole_group`), SIGTERM to members that left
    those groups; SIGKILL to whatever is left after STOP_GRACE_S."""
    family = _family(processes, marker)
    groups = {process.pid for process in processes}
    for process in processes:
        with suppress(ProcessLookupError):
            if whole_group:
                os.killpg(process.pid, polite)
            else:
                process.send_signal(polite)
    for member in family:
        with suppress(psutil.NoSuchProcess, ProcessLookupError):
            if os.getpgid(member.pid) not in groups:
                member.terminate()
    _, alive = psutil.wait_procs(family, timeout=STOP_GRACE_S)
    for member in alive:
        with suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=5)
    for process in processes:
        process.wait(timeout=5)


def _spawn(command: Sequence[str], log: Path, **options: Any) -> subprocess.Popen:
    """Start `command` in a session of its own, stdout and stderr to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **options,
        )


# PostgreSQL


def postgres_bin_dir() -> Path | None:
    """The directory of Debian's PostgreSQL server binaries (the newest version), or of an
    `initdb` on PATH; None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    initdb = found[-1] if found else shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version_key(initdb: str) -> float:
    return float(Path(initdb).parents[1].name)


@contextmanager
def running_postgres(bin_dir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port, with trust authentication and a
    database `mlflow`; yields its SQLAlchemy URI. Its data directory, unix socket and log lie
    in a temporary directory, removed on exit. As root, the server runs as the `postgres`
    user, since `initdb` and `postgres` refuse to run as root."""
    as_user: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp(prefix="pg"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = {"user": owner.pw_uid, "group": owner.pw_gid, "cwd": root}
    data, log = root / "data", root / "postgres.log"
    server = None
    try:
        command = [bin_dir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]
        command += ["-E", "UTF8", "--locale=C"]
        initdb = subprocess.run(command, capture_output=True, text=True, **as_user)
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        port = free_port()
        command = [bin_dir / "postgres", "-D", data, "-h", LOOPBACK, "-p", str(port), "-k", root]
        # No durability: the cluster lives for one test session.
        command += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        server = _spawn(command, log, **as_user)
        client = ["-h", LOOPBACK, "-p", str(port), "-U", "postgres"]

        def ready() -> bool:
            probe = subprocess.run([bin_dir / "pg_isready", *client], capture_output=True)
            return probe.returncode == 0

        _wait_until(ready, "postgres", POSTGRES_START_S, [server], [log])
        created = subprocess.run(
            [bin_dir / "createdb", *client, "mlflow"], capture_output=True, text=True
        )
        if created.returncode != 0:
            raise _failure("createdb mlflow", f"failed: {created.stderr}", [log])
        yield f"postgresql+psycopg2://postgres@{LOOPBACK}:{port}/mlflow"
    finally:
        if server is not None:
            # Fast shutdown, what `pg_ctl stop -m fast` sends: clients are disconnected.
            _stop([server], str(root), polite=signal.SIGINT)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the session: its SQLAlchemy URI,
    `postgresql+psycopg2://postgres@127.0.0.1:PORT/mlflow` (SQLAlchemy 2.1 reads a bare
    `postgresql://` as psycopg 3, which is not installed)."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    with running_postgres(bin_dir) as uri:
        yield uri


# S3


@dataclass(frozen=True)
class S3Server:
    """An S3 endpoint with one bucket, and the environment a client of it needs (`env`:
    credentials, region, and MLFLOW_S3_ENDPOINT_URL for MLflow's S3 artifact store)."""

    endpoint_url: str
    bucket: str
    env: dict[str, str]

    def client(self) -> Any:
        """A boto3 S3 client of this endpoint."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        )


@contextmanager
def running_s3() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, with the bucket BUCKET."""
    root = Path(tempfile.mkdtemp(prefix="s3"))
    log = root / "moto.log"
    port = free_port()
    endpoint = f"http://{LOOPBACK}:{port}"
    server = _spawn(
        [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
        log,
        cwd=root,
        env={**os.environ, **S3_CREDENTIALS, "TMPDIR": str(root)},
    )
    try:
        _wait_until(lambda: _answers(endpoint), "moto", S3_START_S, [server], [log])
        s3 = S3Server(endpoint, BUCKET, {**S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": endpoint})
        s3.client().create_bucket(Bucket=BUCKET)
        yield s3
    finally:
        _stop([server], str(root), whole_group=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server for the session, with the bucket `mlflow-artifacts`."""
    if not all(find_spec(module) for module in ("moto", "boto3", "flask", "flask_cors")):
        pytest.skip("moto's S3 server is not installed (pip install 'moto[server]')")
    with running_s3() as s3:
        yield s3


# MLflow


@contextmanager
def running_mlflow(backend_store_uri: str, s3: S3Server) -> Iterator[str]:
    """`mlflow server` on a free loopback port, runs in `backend_store_uri` and artifacts
    proxied to the bucket of `s3`; yields its tracking URI.

    One uvicorn worker; no job execution (MLflow 3 otherwise starts a huey job runner beside
    the server, with a queue in /dev/shm that it leaves behind). The server only accepts
    requests whose Host header is its own address."""
    root = Path(tempfile.mkdtemp(prefix="mlflow"))
    log = root / "mlflow.log"
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    env = {**os.environ, **s3.env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env["TMPDIR"] = str(root)
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri]
    command += ["--artifacts-destination", f"s3://{s3.bucket}/"]
    command += ["--host", LOOPBACK, "--port", str(port), "--workers", "1"]
    command += ["--allowed-hosts", address]
    server = _spawn(command, log, cwd=root, env=env)
    try:
        health = f"http://{address}/health"
        _wait_until(lambda: _answers(health), "mlflow server", MLFLOW_START_S, [server], [log])
        yield f"http://{address}"
    finally:
        # The CLI would pass SIGTERM on to uvicorn; the whole group gets it in any case.
        _stop([server], str(root), whole_group=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(postgres_server: str, s3_server: S3Server) -> Iterator[str]:
    """An MLflow tracking server for the session, on `postgres_server` and `s3_server`: its
    tracking URI, `http://127.0.0.1:PORT`. Artifacts go through the server (the client needs
    no S3 credentials) to s3://mlflow-artifacts/."""
    with running_mlflow(postgres_server, s3_server) as tracking_uri:
        yield tracking_uri


# Ray


@dataclass(frozen=True)
class RayCluster:
    """A running Ray cluster: the GCS `address` ("127.0.0.1:PORT") for
    `ray.init(address=...)`, and `env`, what a driver's environment needs to connect to it
    (token authentication: RAY_AUTH_MODE and RAY_AUTH_TOKEN).

    A driver in a subprocess gets `{**os.environ, **env}`; one in the test process connects
    inside `driver_environment()`."""

    address: str
    env: dict[str, str]

    @contextmanager
    def driver_environment(self) -> Iterator[None]:
        """`env` set in this process, and the previous values back on exit.

        Ray reads the authentication mode when it is imported and caches it and the token,
        so both caches are reloaded from the environment on entry and again on exit: call
        `ray.init(address=...)` and `ray.shutdown()` inside the block."""
        saved = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)
        _reload_ray_authentication()
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            _reload_ray_authentication()


def _reload_ray_authentication() -> None:
    """Make this process's Ray see RAY_AUTH_MODE and RAY_AUTH_TOKEN as they are now (what
    `ray.init` does itself when it enables token authentication for a local cluster)."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


# Polls the cluster from a driver of its own until `nodes` nodes are alive.
_COUNT_NODES = """
import sys, time, ray
ray.init(address=sys.argv[1], log_to_driver=False)
deadline = time.monotonic() + float(sys.argv[3])
while sum(node["Alive"] for node in ray.nodes()) < int(sys.argv[2]):
    if time.monotonic() > deadline:
        sys.exit(f"alive: {[node['Alive'] for node in ray.nodes()]}")
    time.sleep(0.2)
"""


@contextmanager
def running_ray_cluster(nodes: int = 2) -> Iterator[RayCluster]:
    """A Ray cluster of `nodes` nodes on this machine, a head and workers, one CPU each, with
    token authentication on.

    Everything lives in a short temporary directory (Ray's unix sockets must fit in 107
    characters): each node's `--temp-dir`, the `ray start` logs, and the HOME of the nodes,
    so that nothing is read from or written to the real ~/.ray. Every port is a free one,
    so another Ray on the machine is not disturbed; nor is it on teardown, which never runs
    `ray stop`."""
    root = Path(tempfile.mkdtemp(prefix="r", dir="/tmp"))
    home = root / "home"
    home.mkdir()
    # `ray start` enables token authentication only when asked (or when ~/.ray/auth_token
    # exists); with RAY_AUTH_MODE=token every process, workers and drivers too, needs the
    # token, which RAY_AUTH_TOKEN gives ahead of any token file.
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = {**os.environ, **auth, "HOME": str(home), "TMPDIR": str(root)}
    env.pop("RAY_ADDRESS", None)
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    # Ray replaces 127.0.0.1 with the machine's address (so that other machines could join),
    # the same for both nodes when both are given it; the GCS listens on every interface.
    common = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block"]
    common += ["--node-ip-address", LOOPBACK, "--num-cpus=1", "--num-gpus=0"]
    common += [f"--object-store-memory={RAY_OBJECT_STORE_BYTES}", "--disable-usage-stats"]
    processes, logs = [], []

    def start(name: str, *options: str) -> None:
        log = root / f"{name}.log"
        logs.append(log)
        command = [*common, f"--temp-dir={root / name}", *options]
        command.append(f"--dashboard-agent-listen-port={free_port()}")
        processes.append(_spawn(command, log, cwd=root, env=env))

        def started() -> bool:
            return "Ray runtime started" in log.read_text(errors="replace")

        _wait_until(started, f"ray node {name}", RAY_START_S, processes, logs)

    try:
        # The dashboard itself stays off, but its API server still listens.
        # With grpcio installed (the ray extra) the head also serves the Ray Client, on
        # 10001 unless told otherwise: a free port, so as not to meet another Ray.
        client_port = free_port()
        start(
            "head",
            "--head",
            f"--port={port}",
            f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={client_port}",
        )
        for index in range(1, nodes):
            start(f"node{index}", f"--address={address}")
        counted = subprocess.run(
            [sys.executable, "-c", _COUNT_NODES, address, str(nodes), str(RAY_START_S)],
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
            timeout=RAY_START_S + 60,
        )
        if counted.returncode != 0:
            raise _failure(f"ray cluster of {nodes} nodes", counted.stderr[-3000:], logs)
        yield RayCluster(address, auth)
    finally:
        # Each `ray start --block` stops the processes of its node in order on SIGTERM;
        # signalled all at once, the head's GCS server hangs for half a minute and more.
        _stop(processes, str(root))
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A two-node Ray cluster for the session (one CPU each), on 127.0.0.1."""
    if find_spec("ray") is None:
        pytest.skip("Ray is not installed (pip install ray)")
    with running_ray_cluster(nodes=2) as cluster:
        yield cluster
