"""Shared fixtures; tracking and analytics stay off the network in every test.

Two tiers: `make test` runs the fast one (`-m "not slow"`), `make test-slow` the tests
marked slow, and `make test-all` both, each on two pytest-xdist workers (`WORKERS=0`: one
process). A test is slow when it runs the pipeline end to end (it uses `pipeline_repo`,
or its module says `pytestmark = pytest.mark.slow`) or is marked `@pytest.mark.slow` for
taking seconds of processes, training or a browser.

The slow tier shares its work: `pipeline_repo` is reproduced once per session, even with
several workers, and never changed; a test that changes a pipeline works on a copy of it
(`pipeline_copy`, or repo_helpers.clone_repo), with its DVC cache and MLflow store.
"""

import fcntl
import os
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DVC_NO_ANALYTICS"] = "1"
# One thread per test and per process it starts (stages, servers, workers): two xdist
# workers share two cores without oversubscribing them. Set before NumPy or torch loads.
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


@pytest.fixture
def prices() -> pd.DataFrame:
    """200 business days of a positive random-walk price in the tidy download layout."""
    rng = np.random.default_rng(0)
    close = 100 + np.cumsum(rng.normal(0, 1, 200))
    dates = pd.bdate_range("2020-01-01", periods=200)
    return pd.DataFrame(
        {
            "date": dates,
            "ticker": "TEST",
            "open": close - 0.5,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": rng.integers(1_000, 2_000, 200),
        }
    )


# A test that uses this, directly or through another fixture (`pipeline_copy`), runs
# `dvc repro`.
PIPELINE_FIXTURE = "pipeline_repo"
# Under pytest-xdist a module is one unit of work, run on one worker, so that its module
# fixtures (a queue of experiments, a served store) are built once; the modules that share
# the session's servers (PostgreSQL, S3, MLflow, Ray) are one unit, which starts them once.
SHARED_UNITS = {"test_servers": "servers", "test_sweep_cluster": "servers"}
# The slow tier's order, so that two workers finish together: the module that builds the
# session's pipeline first, then the long modules that do not need it (the other worker
# takes them meanwhile), then those that copy the pipeline; the rest as collected.
FIRST = [
    "test_pipeline",
    "test_sources_pipeline",
    "test_queue",
    "test_accuracy",
    "test_sweep_cluster",
    "test_servers",
    "test_gate",
    "test_registry",
    "test_reproduce",
    "test_ui",
]


def _module(nodeid: str) -> str:
    """The test module's name: `test_gate` of `tests/test_gate.py::test_x[a]`."""
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PIPELINE_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    rank = {name: k for k, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(_module(item.nodeid), len(FIRST)))


def pytest_xdist_make_scheduler(config, log):
    """Whole modules (or SHARED_UNITS) to a worker, in the collected order."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SHARED_UNITS.get(_module(nodeid), nodeid.split("::", 1)[0])

    config.option.loadscopereorder = False
    return ByModule(config, log)


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's base temporary folder, common to every xdist worker."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def pipeline_repo(tmp_path_factory) -> Path:
    """A git copy of the repository after `dvc repro` on tiny params, with its DVC cache
    and a populated MLflow store: built once per session (the first worker that needs it
    builds it, the others wait for it). Read only: a test that changes it works on
    `pipeline_copy`."""
    from repo_helpers import commit, copy_repository, run, write_params

    shared = _shared_dir(tmp_path_factory)
    repo, done, failed = shared / "pipeline", shared / "pipeline.done", shared / "pipeline.failed"
    with open(shared / "pipeline.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if failed.exists():
            pytest.fail(f"the session's pipeline failed to build:\n{failed.read_text()}")
        if not done.exists():
            try:
                repo.mkdir()
                copy_repository(repo)
                write_params(repo, {})
                commit(repo, "tiny params")
                result = run(repo, "dvc", "repro")
                assert result.returncode == 0, result.stdout + result.stderr
            except BaseException:
                failed.write_text(traceback.format_exc())
                raise
            done.touch()
    return repo


@pytest.fixture
def pipeline_copy(pipeline_repo, tmp_path) -> Path:
    """A copy of the session's reproduced pipeline for one test to change: git history,
    outputs, DVC cache and the MLflow store with its runs."""
    from repo_helpers import clone_repo

    return clone_repo(pipeline_repo, tmp_path / "repo")
