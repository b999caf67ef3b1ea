"""What every stage entry point shares: one clear line and exit code 2 on bad input."""

import sys
from collections.abc import Callable

from seqcast.errors import SeqcastError


def run(main: Callable[[], None], name: str) -> None:
    try:
        main()
    except SeqcastError as exc:
        print(f"seqcast {name}: error: {exc}", file=sys.stderr)
        sys.exit(2)
