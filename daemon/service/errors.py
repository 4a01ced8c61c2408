"""User-facing errors: each carries the message to print and the exit status to use.

The CLI catches `UserError` and prints its message, never a traceback. Everything
else is a bug and is allowed to show its traceback.
"""

EX_USAGE = 64      # bad command line
EX_DATAERR = 65    # bad input data (a chart, a MIDI file, a corpus)
EX_NOINPUT = 66    # a named file or model does not exist
EX_UNAVAILABLE = 69  # a service we need is missing (no MIDI system, no fluidsynth)
EX_SOFTWARE = 70
EX_CONFIG = 78     # bad configuration: systemd must not restart-loop on it


class UserError(Exception):
    """An error caused by the user's input or environment, with a clear message."""

    status = EX_DATAERR

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status


class ConfigError(UserError):
    """A bad configuration file or value. Exit status 78 (EX_CONFIG)."""

    status = EX_CONFIG


class ModelError(UserError):
    """A missing or corrupt model directory."""

    status = EX_NOINPUT


class MidiSystemError(UserError):
    """No MIDI system, or a port that does not exist."""

    status = EX_UNAVAILABLE
