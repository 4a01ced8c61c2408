"""Allow `python -m daemon ...` as a synonym for the `jazzd` console script."""

import sys

from daemon.cli import main

sys.exit(main())
