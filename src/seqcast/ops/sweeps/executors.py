"""Where a sweep's units run: a local process pool, or the tasks of a Ray cluster.

The executor is chosen by environment, never by params, so that switching it changes no
result and no dvc.lock entry:

- SEQCAST_RAY_ADDRESS set (`ray://host:10001`, or `host:6379` of a `ray start` cluster):
  Ray core tasks, one CPU per `train.threads` (Ray is not in `make repro`'s install:
  `make ray`, or `pip install -r requirements-ray.txt`);
- otherwise a local pool of SEQCAST_WORKERS processes (default: cores / train.threads).

Both run the same function on the same tasks and hand back each unit's outcome or error
as it ends; the driver retries, caches and logs.
"""

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from seqcast import threads
from seqcast.errors import SeqcastError

RAY_ADDRESS = "SEQCAST_RAY_ADDRESS"
WORKERS = "SEQCAST_WORKERS"

# (task index, outcome or the exception the task raised)
Finished = tuple[int, Any | BaseException]


class Executor(Protocol):
    description: str

    def run(self, fn: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Finished]: ...

    def close(self) -> None: ...


class LocalPool:
    """A pool of fresh Python processes on this machine (spawned: torch and fork do not mix).

    A worker that dies (killed for memory, say) breaks the whole pool: its units and every
    unit still pending end with BrokenProcessPool, and the next `run` starts a new pool, so
    that the driver's retry runs them."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.description = f"a local pool of {workers} process(es)"
        self._pool = self._start()

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context)

    def run(self, fn: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Finished]:
        futures = {self._pool.submit(fn, task): i for i, task in enumerate(tasks)}
        broken = False
        for future in concurrent.futures.as_completed(futures):
            error = future.exception()
            broken = broken or isinstance(error, BrokenProcessPool)
            yield futures[future], error if error is not None else future.result()
        if broken:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = self._start()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayCluster:
    """Ray core tasks on the cluster at `address`, each asking for `cpus` CPUs."""

    def __init__(self, address: str, cpus: int) -> None:
        try:
            import ray
        except ImportError:
            raise SeqcastError(
                f"{RAY_ADDRESS} = {address}: Ray is not installed, and `make repro` does not "
                "install it: run `make ray` (or pip install -r requirements-ray.txt)"
            ) from None
        self._ray = ray
        try:
            ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        except (ConnectionError, RuntimeError) as exc:
            ray.shutdown()  # a half-made connection would break this process's next ray.init
            raise SeqcastError(f"{RAY_ADDRESS} = {address}: cannot connect: {exc}") from None
        self.cpus = cpus
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        total = sum(n.get("Resources", {}).get("CPU", 0) for n in nodes)
        self.description = f"the Ray cluster at {address} ({len(nodes)} nodes, {total:g} CPUs)"

    def run(self, fn: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Finished]:
        ray = self._ray
        remote = ray.remote(num_cpus=self.cpus, max_retries=0)(fn)
        pending = {remote.remote(task): i for i, task in enumerate(tasks)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                try:
                    yield index, ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    yield index, exc.as_instanceof_cause()
                except ray.exceptions.RayError as exc:  # a lost worker or node
                    yield index, exc

    def close(self) -> None:
        self._ray.shutdown()


def from_environment(train_threads: int) -> Executor:
    """The executor that the environment asks for (module docstring)."""
    address = os.environ.get(RAY_ADDRESS, "").strip()
    per_unit = max(1, train_threads)
    if address:
        return RayCluster(address, per_unit)
    text = os.environ.get(WORKERS, "").strip()
    if not text:
        return LocalPool(max(1, threads.available_cores() // per_unit))
    if not text.isdigit() or int(text) < 1:
        raise SeqcastError(f"{WORKERS} = {text!r}: expected a number of processes, 1 or more")
    return LocalPool(int(text))
