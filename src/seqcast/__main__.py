"""`python -m seqcast ...`: the `seqcast` command, where its script is not on the PATH."""

import sys

from seqcast.cli import main

sys.exit(main())
