"""jazzd's running program: MIDI I/O, clock, scheduler, improviser, CLI, service glue,
model runtime and training. Pure music logic lives in the sibling package `grammar`."""

import os

# The LSTM step multiplies small matrices: a BLAS thread pool only adds wake-up jitter
# (p99 4 us single-threaded vs 14 us threaded, measured) and competes with the
# scheduler for the cores. Set before numpy is first imported; the user's value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
