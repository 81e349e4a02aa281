"""`python run.py ARGS` is `wiredesk ARGS`."""

import sys

from aggregator.cli import main

if __name__ == "__main__":
    sys.exit(main())
