"""`python -m aggregator.cli ARGS` is `wiredesk ARGS`."""

import sys

from aggregator.cli import main

sys.exit(main())
