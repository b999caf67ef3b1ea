"""What a run of the pipeline costs, and where the time goes.

In a throwaway copy of the working tree (seqcast.ops.sandbox: its own dvc.lock, DVC cache
and MLflow store, so nothing here changes), it measures:

- repro    : a cold `dvc repro -f` (every stage runs) and a no-op `dvc repro`;
- stages   : each stage of dvc.lock run on its own, as DVC runs it: its start-up (the
             interpreter and the imports of the stage script, timed on `--help`), its whole
             run, the import time of that run (`python -X importtime`) and which of the
             heavy libraries (torch, mlflow, sklearn, scipy, matplotlib) it loaded;
- windowing: `seqcast.prep.windows.make_windows` on a synthetic table (1,000,000 rows x 5
             features, window 60 by default): time, and the peak memory it allocates
             against the size of its input table;
- training : the pipeline's PyTorch loop against a plain PyTorch loop in this process,
             on the windows that params.yaml gives (benchmarks/train_throughput.py);
- threads  : an RNN trained for 5 epochs at 1 and 2 threads, on an idle machine and with
             one core kept busy by a spinning process (docs/speed.md#threads).

Every figure is the median of `--repeats` runs, CPU seconds beside wall seconds (CPU time
of the measured processes, so that a busy machine shows as wall time above CPU time).

    python benchmarks/pipeline.py                          # everything, 3 repeats
    python benchmarks/pipeline.py --parts windowing training --repeats 5
    python benchmarks/pipeline.py --rows 200000            # a smaller windowing table
"""

import argparse
import os
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from seqcast.ops import sandbox
from seqcast.prep.windows import make_windows

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("repro", "stages", "windowing", "training", "threads")
HEAVY = ("torch", "mlflow", "sklearn", "scipy", "matplotlib")
# One line of `python -X importtime`: self and cumulative microseconds, then the module
# indented by two spaces per level of nesting.
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and its children, stderr) of one command run to the end."""
    cpu, wall = children_cpu(), time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall, children_cpu() - cpu
    if result.returncode != 0:
        sys.exit(f"{shlex.join(command)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return wall, cpu, result.stderr


def median_of(repeats: int, measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    runs = [measure() for _ in range(repeats)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def import_summary(stderr: str) -> tuple[float, list[str]]:
    """Seconds spent importing (top-level imports' cumulative times), and the heavy
    libraries among them."""
    total, loaded = 0, []
    for line in stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if not match:
            continue
        _, cumulative, indent, module = match.groups()
        if len(indent) == 1:  # a top-level import
            total += int(cumulative)
        if module in HEAVY:
            loaded.append(module)
    return total / 1e6, sorted(set(loaded), key=HEAVY.index)


def python_command(cmd: str) -> list[str]:
    """A stage's `python stages/x.py ...` with this interpreter."""
    words = shlex.split(cmd)
    if words[0] != "python":
        sys.exit(f"not a python stage command: {cmd}")
    return [sys.executable, *words[1:]]


def measure_repro(repo: Path, env: dict[str, str], repeats: int) -> list[str]:
    dvc = [str(Path(sys.executable).parent / "dvc"), "repro"]
    cold = median_of(repeats, lambda: run_timed([*dvc, "-f"], repo, env)[:2])
    noop = median_of(max(repeats, 5), lambda: run_timed(dvc, repo, env)[:2])
    stages = len(yaml.safe_load((repo / "dvc.lock").read_text())["stages"])
    return [
        "| run | wall s | CPU s |",
        "|:---|---:|---:|",
        f"| cold `dvc repro -f` ({stages} stages) | {cold[0]:.1f} | {cold[1]:.1f} |",
        f"| no-op `dvc repro` | {noop[0]:.2f} | {noop[1]:.2f} |",
    ]


def measure_stages(repo: Path, env: dict[str, str], repeats: int) -> list[str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    rows = [
        "| stage | start-up wall s | start-up CPU s | run wall s | run CPU s | imports s | loads |",
        "|:---|---:|---:|---:|---:|---:|:---|",
    ]
    totals = np.zeros(4)
    for name, entry in lock.items():
        command = python_command(entry["cmd"])
        help_command = [*command[:2], "--help"]
        startup = median_of(repeats, lambda c=help_command: run_timed(c, repo, env)[:2])
        run = median_of(repeats, lambda c=command: run_timed(c, repo, env)[:2])
        stderr = run_timed([command[0], "-X", "importtime", *command[1:]], repo, env)[2]
        imports, loaded = import_summary(stderr)
        totals += (*startup, *run)
        rows.append(
            f"| {name} | {startup[0]:.2f} | {startup[1]:.2f} | {run[0]:.2f} | {run[1]:.2f} "
            f"| {imports:.2f} | {', '.join(loaded) or '-'} |"
        )
    rows.append(
        f"| **all {len(lock)}** | {totals[0]:.1f} | {totals[1]:.1f} | {totals[2]:.1f} "
        f"| {totals[3]:.1f} | | |"
    )
    return rows


def windowing_table(rows: int, features: int) -> pd.DataFrame:
    """A scaled table as the window stage reads it: float features and a split column."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal((rows, features))
    table = pd.DataFrame(
        values,
        index=pd.date_range("2000-01-03", periods=rows, freq="min"),
        columns=["value", *(f"x{i}" for i in range(1, features))],
    )
    n_train, n_val = int(rows * 0.7), int(rows * 0.15)
    labels = np.array(["train"] * n_train + ["val"] * n_val + ["test"] * (rows - n_train - n_val))
    table["split"] = pd.Categorical(labels, categories=["train", "val", "test"])
    return table


def measure_windowing(rows: int, length: int, features: int, repeats: int) -> list[str]:
    table = windowing_table(rows, features)
    input_bytes = int(table.memory_usage(deep=True).sum())

    def once() -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        windows = make_windows(table, "value", length, 1)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert windows["train"].x.shape[1:] == (length, features)
        return wall, cpu

    wall, cpu = median_of(repeats, once)
    tracemalloc.start()
    windows = make_windows(table, "value", length, 1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_windows = sum(len(w) for w in windows.values())
    copied = n_windows * length * features * 8
    return [
        "| table | windows | wall s | CPU s | peak allocated | input table | peak / input "
        "| the windows as one copied array |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|",
        f"| {rows:,} rows x {features} features, window {length} | {n_windows:,} "
        f"| {wall:.3f} | {cpu:.3f} | {peak / 2**20:,.0f} MiB | {input_bytes / 2**20:,.0f} MiB "
        f"| {peak / input_bytes:.2f}x | {copied / 2**20:,.0f} MiB |",
    ]


def measure_training(repeats: int) -> list[str]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import train_throughput  # a sibling script, not a package

    train, val = train_throughput.windows_from_params(ROOT / "params.yaml")
    return train_throughput.throughput_table(train, val, cells=["lstm"], repeats=repeats)


THREAD_PROBE = """
import contextlib, io, sys, time
from seqcast import threads
count = int(sys.argv[3])
threads.pin(count)
import torch
sys.path.insert(0, sys.argv[1])
from train_throughput import windows_from_params
from seqcast.models.recurrent_config import NetShape, RecurrentConfig
from seqcast.models.recurrent_net import RecurrentNet
from seqcast.models.train_config import TrainConfig
from seqcast.models.training import train_network
train, val = windows_from_params(sys.argv[2])
torch.manual_seed(0)
net = RecurrentNet(NetShape("rnn", train.x.shape[-1]), RecurrentConfig(skip="none"))
params = TrainConfig(max_epochs=5, patience=6, threads=count, device="cpu")
cpu, wall = time.process_time(), time.perf_counter()
with contextlib.redirect_stderr(io.StringIO()):
    train_network(net, train, val, params, "rnn")
print(time.perf_counter() - wall, time.process_time() - cpu)
"""


def measure_threads(repeats: int) -> list[str]:
    """Each run in its own process: the thread count is fixed when PyTorch loads."""
    here, params = str(ROOT / "benchmarks"), str(ROOT / "params.yaml")

    def once(count: int) -> tuple[float, float]:
        command = [sys.executable, "-c", THREAD_PROBE, here, params, str(count)]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        wall, cpu = map(float, result.stdout.split())
        return wall, cpu

    rows = ["| threads | machine | wall s | CPU s |", "|---:|:---|---:|---:|"]
    for machine in ("idle", "one core busy"):
        spinner = None
        if machine != "idle":
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for count in (1, 2):
                wall, cpu = median_of(repeats, lambda c=count: once(c))
                rows.append(f"| {count} | {machine} | {wall:.2f} | {cpu:.2f} |")
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="windowing: table rows")
    parser.add_argument("--length", type=int, default=60, help="windowing: window length")
    parser.add_argument("--features", type=int, default=5, help="windowing: table columns")
    args = parser.parse_args()

    print(
        f"seqcast pipeline benchmark: median of {args.repeats}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f} at the start\n"
    )
    if "windowing" in args.parts:
        print("## Windowing\n")
        print("\n".join(measure_windowing(args.rows, args.length, args.features, args.repeats)))
        print()
    if "training" in args.parts:
        print("## Training loop\n")
        print("\n".join(measure_training(args.repeats)))
        print()
    if "threads" in args.parts:
        print("## Threads: an RNN, 5 epochs\n")
        print("\n".join(measure_threads(args.repeats)))
        print()
    if not {"repro", "stages"} & set(args.parts):
        return
    env = sandbox.pipeline_env()
    with sandbox.worktree_copy(ROOT) as repo:
        print(f"(a copy of the working tree in {repo}; a first `dvc repro` ...)\n", flush=True)
        first = run_timed([str(Path(sys.executable).parent / "dvc"), "repro"], repo, env)
        print(f"first cold `dvc repro`: {first[0]:.1f} s wall, {first[1]:.1f} s CPU\n")
        if "repro" in args.parts:
            print("## Reproduction\n")
            print("\n".join(measure_repro(repo, env, args.repeats)))
            print()
        if "stages" in args.parts:
            print("## Stages, each run on its own\n")
            print("\n".join(measure_stages(repo, env, args.repeats)))
            print()


if __name__ == "__main__":
    main()
