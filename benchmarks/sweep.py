"""What a sweep costs, unit by unit, and how it scales: the figures of docs/sweeps.md.

    python benchmarks/sweep.py            # about 5 minutes on 2 cores
    python benchmarks/sweep.py --models naive linear   # params.yaml's own sweep.models

Runs the sweep of params.yaml, with a network in it by default (sweep.models: naive,
linear, gru: 40 units; every unit again, none from the cache) on a local pool of
1 process, of 2, and on a two-node Ray cluster on 127.0.0.1 (started here, as the tests
start it, and stopped by process id), and checks that the three tables are identical.
Then the overheads per unit: scheduling an empty task on each executor; the MLflow writes
of one child run (local SQLite store, and a tracking server on PostgreSQL with artifacts on
moto's S3), one client at a time and four at once; and the bytes a unit moves.
"""

import argparse
import os
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from servers import (  # noqa: E402
    postgres_bin_dir,
    running_mlflow,
    running_postgres,
    running_ray_cluster,
    running_s3,
)

from seqcast.jobs.sweep import run_sweep  # noqa: E402
from seqcast.ops.sandbox import merge  # noqa: E402
from seqcast.ops.sweeps import executors, results  # noqa: E402
from seqcast.ops.sweeps import sweep_runs as tracking  # noqa: E402
from seqcast.params import parse_params, read_raw  # noqa: E402


def empty(task: int) -> int:
    return task


def cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_sweep(params, executor, cache: Path):
    wall, used = time.perf_counter(), cpu()
    try:
        run = run_sweep(params, executor=executor, cache=cache, rerun=True, track=False,
                        progress=lambda _: None)  # fmt: skip
    finally:
        executor.close()
    wall, used = time.perf_counter() - wall, cpu() - used
    units = sum(run.cpu_seconds.values())
    print(f"{executor.description:<48} {wall:7.1f} s wall  {used:7.1f} s CPU here  "
          f"{units:7.1f} s CPU in the units  ({run.ran} units)")  # fmt: skip
    return run


def scheduling(executor, count: int = 200) -> None:
    list(executor.run(empty, [0]))  # warm: the workers have started
    start = time.perf_counter()
    list(executor.run(empty, list(range(count))))
    per = (time.perf_counter() - start) / count
    print(f"scheduling, {executor.description:<40} {1000 * per:6.2f} ms per empty task")
    executor.close()


def child_writes(uri: str, rows: list[dict], label: str) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    parent = tracking.start_parent("benchmark", "benchmark", {}, {})
    start = time.perf_counter()
    tracking.log_children(parent, rows, {})
    per = (time.perf_counter() - start) / len(rows)
    print(f"MLflow, {label:<44} {1000 * per:6.1f} ms per child run (driver, one at a time)")


def concurrent_child_writes(uri: str, rows: list[dict], clients: int) -> None:
    """Children a second when `clients` threads write at once: what a server sustains."""
    from concurrent.futures import ThreadPoolExecutor

    os.environ["MLFLOW_TRACKING_URI"] = uri
    parent = tracking.start_parent("benchmark", "concurrent", {}, {})
    many = [{**row, "unit_id": f"{row['unit_id']}-{k}"} for k in range(clients) for row in rows]
    parts = [many[k::clients] for k in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda part: tracking.log_children(parent, part, {}), parts))
    rate = len(many) / (time.perf_counter() - start)
    print(f"MLflow, server, {clients} clients at once {rate:30.1f} child runs a second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["naive", "linear", "gru"])
    args = parser.parse_args()
    raw = merge(read_raw(ROOT / "params.yaml"), {"sweep": {"models": args.models}})
    params = parse_params(raw)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print(
            f"sweep of params.yaml with sweep.models {args.models}, every unit run again, "
            f"{os.cpu_count()} cores:"
        )
        one = timed_sweep(params, executors.LocalPool(1), tmp / "1")
        two = timed_sweep(params, executors.LocalPool(2), tmp / "2")
        with running_ray_cluster(nodes=2) as cluster, cluster.driver_environment():
            on_ray = timed_sweep(params, executors.RayCluster(cluster.address, 1), tmp / "ray")
            scheduling(executors.RayCluster(cluster.address, 1))
        for other in (two, on_ray):
            pd.testing.assert_frame_equal(one.table, other.table)
        print("the three tables are identical")
        scheduling(executors.LocalPool(2))

        features = {name: len(pickle.dumps(f)) for name, f in _tables(params).items()}
        rows = one.table.to_dict("records")[:20]
        rows = [
            {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in r.items()} for r in rows
        ]
        os.chdir(tmp)
        child_writes(f"sqlite:///{tmp / 'mlflow.db'}", rows, "local SQLite store")
        bin_dir = postgres_bin_dir()
        with running_postgres(bin_dir) as db, running_s3() as s3, running_mlflow(db, s3) as uri:
            child_writes(uri, rows, "server on PostgreSQL, artifacts on S3")
            concurrent_child_writes(uri, rows, clients=4)

        row = one.table.iloc[0].to_dict()
        row = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in row.items()}
        cached = (tmp / "1" / f"{row['unit_id']}.json").stat().st_size
        print(f"bytes: a task ships its ticker's feature table, pickled {features}")
        print(f"bytes: predictions.csv {len(tracking.predictions_csv(row))}, cached row {cached}")
        results.write_table(one.table, tmp / "results.parquet")
        size = (tmp / "results.parquet").stat().st_size
        print(f"bytes: results.parquet {size} for {len(one.table)} units")


def _tables(params):
    from seqcast.jobs.sweep import feature_tables

    return feature_tables(params)


if __name__ == "__main__":
    main()
