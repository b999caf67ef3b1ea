"""What every stage entry point shares: pinned threads, and on bad input one clear line and
exit code 2."""

import sys
from collections.abc import Callable

from seqcast import threads
from seqcast.errors import SeqcastError
from seqcast.params import load_params


def run(main: Callable[[], None], name: str) -> None:
    try:
        # Before any computation, so that every number is made with the same thread count.
        threads.pin(threads.resolve_threads(load_params().train))
        main()
    except SeqcastError as exc:
        print(f"seqcast {name}: error: {exc}", file=sys.stderr)
        sys.exit(2)
