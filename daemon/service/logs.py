"""Logging that fits journald and never takes the daemon down.

One line per event. Under systemd (stderr connected to the journal, see $JOURNAL_STREAM)
each line starts with a syslog priority prefix such as `<4>`, sd-daemon(3) style, and no
timestamp (the journal adds its own). On a terminal: `HH:MM:SS.mmm LEVEL message`.

A handler whose write fails (broken pipe, disk full, closed file) drops the line and
counts it: losing a log line is better than losing the performance.

`RateLimiter` keeps a flood of repeated warnings (10 000 bad MIDI messages a second)
down to one line per kind per interval, with a count of what was left out.
"""

import logging
import os
import sys
import threading
import time

LOGGER_NAME = "jazzd"

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR, "critical": logging.CRITICAL}

# syslog priorities (sd-daemon(3)): what journald reads from a "<N>" line prefix.
_PRIORITY = ((logging.CRITICAL, "<2>"), (logging.ERROR, "<3>"), (logging.WARNING, "<4>"),
             (logging.INFO, "<6>"))


def _prefix(levelno):
    for threshold, prefix in _PRIORITY:
        if levelno >= threshold:
            return prefix
    return "<7>"


def _is_journal(stream, environ):
    """True when `stream` is the journal's stream socket named by $JOURNAL_STREAM.

    systemd.exec(5) says to compare device and inode, not just test the variable: a
    process started by the service (or `jazzd run 2>file` in a unit's shell) inherits
    JOURNAL_STREAM while its stderr goes elsewhere.
    """
    value = environ.get("JOURNAL_STREAM")
    if not value:
        return False
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError, TypeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class LineFormatter(logging.Formatter):
    """`<N>message` for the journal, `HH:MM:SS.mmm LEVEL message` for a terminal."""

    def __init__(self, journal):
        super().__init__()
        self.journal = journal

    def format(self, record):
        text = record.getMessage()
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            text = text + "\n" + record.exc_text
        if self.journal:
            # journald parses the prefix per line; give a traceback's lines the same one.
            prefix = _prefix(record.levelno)
            return "\n".join(prefix + line for line in text.splitlines() or [""])
        t = time.localtime(record.created)
        ms = int(record.created * 1000) % 1000
        return (f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms:03d} "
                f"{record.levelname} {text}")


class LineHandler(logging.StreamHandler):
    """The standard StreamHandler, with two changes: with `stream=None` it writes to
    whatever `sys.stderr` is at write time (systemd or a test may swap it), and a
    failed write (a full disk, a closed pipe) drops the line and counts it instead of
    printing a traceback about logging."""

    def __init__(self, stream=None):
        self.dropped = 0
        super().__init__(stream)
        self._fixed = stream          # the base class filled in sys.stderr for None

    @property
    def stream(self):
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value):
        self._fixed = value

    def handleError(self, record):
        self.dropped += 1


def setup(level="info", stream=None, journal=None, environ=None):
    """Configure and return the "jazzd" logger; safe to call again (on reload).

    `level` is a config name ("debug", "info", "warning", "error") or a logging level.
    `journal` forces the journal format on (True) or off (False); None decides from
    $JOURNAL_STREAM and the stream, as systemd.exec(5) describes.
    """
    if isinstance(level, str):
        try:
            level = LEVELS[level.lower()]
        except KeyError:
            raise ValueError(f"unknown log level {level!r}; allowed: "
                             f"{', '.join(LEVELS)}") from None
    environ = os.environ if environ is None else environ
    if journal is None:
        journal = _is_journal(stream if stream is not None else sys.stderr, environ)
    logging.raiseExceptions = False      # no handler may print a traceback about a write
    logger = logging.getLogger(LOGGER_NAME)
    for h in list(logger.handlers):
        if isinstance(h, LineHandler):
            logger.removeHandler(h)
    handler = LineHandler(stream)
    handler.setFormatter(LineFormatter(journal))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False     # no duplicate lines through the root logger
    return logger


def dropped():
    """How many lines the "jazzd" handlers have dropped because a write failed."""
    return sum(h.dropped for h in logging.getLogger(LOGGER_NAME).handlers
               if isinstance(h, LineHandler))


class RateLimiter:
    """At most one line per kind per `interval`, with a count of the ones left out.

    The first warning of a kind is logged at once. Repeats within `interval` are only
    counted; the next one after the interval is logged with "(N more like this in the
    last X s)". `flush()` reports pending counts (call it on shutdown, or with
    `due_only=True` from a periodic housekeeping loop so a flood that stops is still
    summarised).

    `message` is a %-format string and `args` its arguments: a suppressed call formats
    nothing and allocates nothing beyond its counter.
    """

    def __init__(self, logger, interval=1.0, clock=time.monotonic, level=logging.WARNING,
                 max_kinds=256):
        self.logger = logger
        self.interval = interval
        self.level = level
        self.max_kinds = max_kinds
        self._clock = clock
        self._lock = threading.Lock()
        self._kinds = {}     # kind -> [last logged time, suppressed, last message, last args]

    def warn(self, kind, message, *args):
        now = self._clock()
        with self._lock:
            state = self._kinds.get(kind)
            if state is not None and now - state[0] < self.interval:
                state[1] += 1
                state[2] = message
                state[3] = args
                return
            if state is None:
                if len(self._kinds) >= self.max_kinds:
                    self._evict()
                self._kinds[kind] = [now, 0, message, args]
                suppressed = 0
                elapsed = 0.0
            else:
                suppressed, elapsed = state[1], now - state[0]
                state[0], state[1], state[2], state[3] = now, 0, message, args
        if suppressed:
            self.logger.log(self.level, message + " (%d more like this in the last %.1f s)",
                            *args, suppressed, elapsed)
        else:
            self.logger.log(self.level, message, *args)

    def flush(self, due_only=False):
        """Log one summary line for each kind with suppressed repeats.

        With `due_only`, only for kinds whose interval has passed (so a periodic call
        keeps the once-per-interval promise).
        """
        now = self._clock()
        lines = []
        with self._lock:
            for kind, state in self._kinds.items():
                if state[1] and (not due_only or now - state[0] >= self.interval):
                    lines.append((kind, state[1], now - state[0], state[2], state[3]))
                    state[0], state[1] = now, 0
        for kind, n, elapsed, message, args in lines:
            try:
                latest = message % args if args else message
            except (TypeError, ValueError):
                latest = message
            self.logger.log(self.level, "%s: %d more like this in the last %.1f s "
                            "(latest: %s)", kind, n, elapsed, latest)
        return len(lines)

    def _evict(self):
        """Too many kinds: forget the quiet ones, or all of them (bounded memory)."""
        for kind in [k for k, s in self._kinds.items() if not s[1]]:
            del self._kinds[kind]
        if len(self._kinds) >= self.max_kinds:
            self._kinds.clear()
