"""What every stage entry point shares: pinned threads; on bad input one clear line and exit
code 2; on SIGTERM or Ctrl-C an orderly stop, so that an open MLflow run ends FAILED and
no half-written output is left."""

import signal
import sys
from collections.abc import Callable
from types import FrameType

from seqcast import threads
from seqcast.errors import SeqcastError
from seqcast.params import load_params

INTERRUPTED = 130  # the shell's code for a process ended by a signal (128 + SIGINT)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # As Ctrl-C does: context managers (MLflow runs, temporary outputs) unwind and clean up.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run(main: Callable[[], None], name: str) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Before any computation, so that every number is made with the same thread count.
        threads.pin(threads.resolve_threads(load_params().train))
        main()
    except SeqcastError as exc:
        print(f"seqcast {name}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        why = f" by {exc}" if str(exc) else ""
        print(f"seqcast {name}: interrupted{why}; nothing was written", file=sys.stderr)
        sys.exit(INTERRUPTED)
