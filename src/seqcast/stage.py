"""What every entry point shares, a stage's or a `seqcast` command's: logging set up once;
on bad input one clear line and exit code 2; on SIGTERM or Ctrl-C an orderly stop, so
that an open MLflow run ends FAILED and no half-written output is left.

The library logs through `logging.getLogger(__name__)` and never configures logging
itself. The entry points send the records of the `seqcast` loggers, as bare messages, to
stderr from WARNING up, and INFO (progress) to `progress`: stdout for a stage, whose
output DVC shows; stderr for a command, whose stdout carries its result alone.
SEQCAST_LOG_LEVEL (DEBUG, INFO, WARNING, ERROR) sets the level; INFO by default.
"""

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from seqcast import threads
from seqcast.errors import SeqcastError
from seqcast.params import load_params

INTERRUPTED = 130  # the shell's code for a process ended by a signal (128 + SIGINT)
LEVEL_VARIABLE = "SEQCAST_LOG_LEVEL"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

log = logging.getLogger(__name__)
_package = logging.getLogger("seqcast")  # the parent of every module's logger


class _StandardStream(logging.StreamHandler):
    """Writes to sys.stdout or sys.stderr as they are when a record comes, not as they
    were when logging was set up (a test's capture replaces them in between)."""

    def __init__(self, name: str) -> None:
        self._stream_name = name
        super().__init__()

    @property
    def stream(self):
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, value: object) -> None:
        pass  # always the current sys.<name>


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self._level


def log_level(verbose: bool = False) -> int:
    """DEBUG when `verbose`, else SEQCAST_LOG_LEVEL's level, else INFO."""
    if verbose:
        return logging.DEBUG
    name = os.environ.get(LEVEL_VARIABLE, "INFO").strip().upper()
    if name not in LEVELS:
        raise SeqcastError(
            f"{LEVEL_VARIABLE} = {os.environ[LEVEL_VARIABLE]!r}: choose one of {', '.join(LEVELS)}"
        )
    return logging.getLevelNamesMapping()[name]


@contextmanager
def logging_to(progress: str, level: int = logging.INFO) -> Iterator[None]:
    """For the block, the seqcast loggers' records below WARNING go to sys.`progress`, the
    others to stderr, each as its bare message, and nowhere else: MLflow's PyTorch module
    calls logging.basicConfig on import, and the root logger would print them again. The
    loggers are as they were afterwards (a test calls entry points in its own process)."""
    saved = (_package.handlers[:], _package.level, _package.propagate)
    below = _StandardStream(progress)
    below.addFilter(_Below(logging.WARNING))
    above = _StandardStream("stderr")
    above.setLevel(logging.WARNING)
    for handler in (below, above):
        handler.setFormatter(logging.Formatter("%(message)s"))
    _package.handlers = [below, above]
    _package.setLevel(level)
    _package.propagate = False
    try:
        yield
    finally:
        _package.handlers, _package.level, _package.propagate = saved


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # As Ctrl-C does: context managers (MLflow runs, temporary outputs) unwind and clean up.
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def entry_point(name: str, progress: str, verbose: bool = False) -> Iterator[None]:
    """The block as `seqcast <name>`, with logging set up (logging_to) at the level that
    `verbose` or SEQCAST_LOG_LEVEL asks for, and ended as `ending` says."""
    with logging_to(progress), ending(name):
        _package.setLevel(log_level(verbose))
        yield


@contextmanager
def ending(name: str) -> Iterator[None]:
    """Run the block as `seqcast <name>`: SIGTERM as Ctrl-C; a SeqcastError ends the
    process with one line and exit code 2, an interruption with exit code 130."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    except SeqcastError as exc:
        log.error("seqcast %s: error: %s", name, exc)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        why = f" by {exc}" if str(exc) else ""
        log.error("seqcast %s: interrupted%s; nothing was written", name, why)
        sys.exit(INTERRUPTED)


def pin_threads(params_file: str = "params.yaml") -> None:
    """Every thread pool to the file's train.threads, before any computation, so that every
    number is made with the same thread count."""
    count = threads.resolve_threads(load_params(params_file, models=(), with_source=False).train)
    threads.pin(count)
    log.debug("computing with %d thread(s)", count)


def run(main: Callable[[], None], name: str) -> None:
    """A pipeline stage's entry point: `main` with progress on stdout and pinned threads."""
    with entry_point(name, "stdout"):
        pin_threads()
        main()
