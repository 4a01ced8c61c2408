"""jazzd's running program: MIDI I/O, clock, scheduler, improviser, CLI, service glue,
model runtime and training. Pure music logic lives in the sibling package `grammar`."""

__version__ = "0.1.0"
