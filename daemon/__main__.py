"""`python -m jazzd ...`: the same as the `jazzd` console script."""

import sys

from jazzd.commands.cli import main

sys.exit(main())
