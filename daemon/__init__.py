"""jazzd: a real-time MIDI jazz improviser (a stateful LSTM plus a jazz grammar).

This folder is the installed package `jazzd`; its sub-packages are the boxes of the
pipeline (docs/ARCHITECTURE.md). The pure music logic in the sibling folder
`grammar/` is installed as `jazzd.grammar` (pyproject.toml maps it), so one import
name reaches all of it and nothing generic (`daemon`, `grammar`) lands on sys.path.
"""

import os

# The LSTM step multiplies small matrices: a BLAS thread pool only adds wake-up jitter
# (p99 4 us single-threaded vs 14 us threaded, measured) and competes with the
# scheduler for the cores. Set before numpy is first imported; the user's value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.2.0"
