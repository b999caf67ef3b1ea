"""One writer at a time for a local SQLite MLflow store, across processes.

`dvc queue start -j 2` runs experiments in parallel, and their evaluate stages log to the
same mlflow.db. SQLite lets one process write at a time; the others wait only 5 seconds
(Python's default busy timeout) and then fail with "database is locked", and two
processes that both find a new database empty both try to create its tables. Logging a
run takes a few seconds (the model is exported with it), so the writers take turns on
an exclusive lock file next to the database (<db>.lock) instead. A lock held by a process
that dies is released by the kernel. Other stores (an MLflow server) need no lock.
"""

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


def sqlite_path(uri: str) -> Path | None:
    """The database file of an sqlite:/// URI; None for any other store."""
    if not uri.startswith("sqlite:"):
        return None
    database = make_url(uri).database
    return Path(database) if database and database != ":memory:" else None


@contextmanager
def exclusive(uri: str) -> Iterator[None]:
    """Hold the store's lock for the duration of the block (no-op for non-SQLite stores)."""
    database = sqlite_path(uri)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_name(database.name + ".lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # A warning: it explains a pause, so it shows on stderr at any level below ERROR.
            log.warning("waiting for another run to finish writing to %s", database)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
