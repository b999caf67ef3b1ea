"""How many CPU threads a stage computes with, pinned for every pool that touches a number.

A sum split over two threads adds in another order than over one, so the last digits of
a result depend on the thread count. Every stage therefore pins PyTorch's intra-op pool,
the BLAS and OpenMP pools that NumPy, SciPy and scikit-learn call, and the environment
variables that libraries loaded later read, to `train.threads` (1 by default): the
digits are then the same on a laptop, a 2-core CI runner and a 64-core server.
`train.threads: 0` (the cores divided by `train.parallel_runs`) is faster on a big idle
machine but gives up that guarantee.

Kept free of a torch import: a stage that trains nothing should not pay for loading it.
"""

import logging
import os
import sys
from typing import TYPE_CHECKING

from threadpoolctl import threadpool_limits

if TYPE_CHECKING:  # for the annotation only: importing seqcast.models loads much more
    from seqcast.models.train_config import TrainConfig

log = logging.getLogger(__name__)

# Read when a library loads: OpenMP (PyTorch, scikit-learn), OpenBLAS, MKL, Apple's
# Accelerate and numexpr.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), not merely the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_threads(params: "TrainConfig") -> int:
    if params.threads:
        return params.threads
    return max(1, available_cores() // params.parallel_runs)


def oversubscription(threads: int) -> str | None:
    """Why `threads` compute threads would wait on each other here, or None.

    Threads that find their core busy spin and then wait for each other at every step of a
    recurrent network: measured on 2 cores with one of them busy, an RNN epoch at 2 threads
    took 2.1 times the wall time and 2.5 times the CPU time of 1 thread (docs/speed.md).
    The load average counts this process itself, hence the one core given back."""
    cores = available_cores()
    if threads > cores:
        return f"train.threads = {threads} is more than the {cores} cores this process may use"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if threads > 1 and load + threads > cores + 1:
        return (
            f"train.threads = {threads} on {cores} cores with a load average of {load:.1f}: "
            "the threads will wait for busy cores"
        )
    return None


def warn_if_oversubscribed(threads: int) -> None:
    """A warning, never a change: the thread count decides the last digits of results."""
    problem = oversubscription(threads)
    if problem:
        log.warning(
            "seqcast: %s; train.threads: 1 (the default) is faster on a busy machine",
            problem,
        )


def pin(threads: int) -> None:
    """Limit every thread pool of this process, loaded now or later, to `threads`."""
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    threadpool_limits(limits=threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
