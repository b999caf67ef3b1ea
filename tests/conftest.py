"""Shared fixtures; tracking and analytics stay off the network in every test.

Two tiers: `make test` runs the fast one (`-m "not slow"`), `make test-slow` the tests
marked slow, and `make test-all` both. A test is slow when it runs the pipeline end to end
(it uses `pipeline_repo`, or its module says `pytestmark = pytest.mark.slow`) or is marked
`@pytest.mark.slow` for taking seconds of processes, training or a browser.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DVC_NO_ANALYTICS"] = "1"


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


# A test that uses one of these, directly or through another fixture, runs `dvc repro`.
PIPELINE_FIXTURES = {"pipeline_repo"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pipeline_repo(tmp_path_factory) -> Path:
    """A git copy of the repository after `dvc repro` on tiny params, run once per session.

    Tests that leave it changed work on a copy (repo_helpers.clone_repo)."""
    from repo_helpers import commit, copy_repository, run, write_params

    repo = copy_repository(tmp_path_factory.mktemp("repo"))
    write_params(repo, {})
    commit(repo, "tiny params")
    result = run(repo, "dvc", "repro")
    assert result.returncode == 0, result.stdout + result.stderr
    return repo
