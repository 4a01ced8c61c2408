"""sd_notify(3) over $NOTIFY_SOCKET: readiness, watchdog pings, status, stopping.

The protocol is a few newline-separated `KEY=value` lines in one datagram sent to the
Unix socket systemd names in NOTIFY_SOCKET (a path, or `@name` for the abstract
namespace). No dependency on libsystemd or the `sdnotify` package.

Two rules shape this module:

- Outside systemd (NOTIFY_SOCKET unset) every method is a cheap no-op, so callers never
  need to check.
- The service must never die, or stall, because of the notify socket: sends are
  non-blocking and failures are swallowed after one logged warning.
"""

import logging
import os
import socket
import time

log = logging.getLogger("jazzd.notify")


def _address(value):
    """NOTIFY_SOCKET → a socket address, or None if it is not a kind we can use."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return "\0" + value[1:]         # abstract namespace: leading NUL byte
    return None


def _watchdog_interval(environ):
    """Seconds between pings: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises.

    None when there is no watchdog, or when WATCHDOG_PID names another process (the
    variables were inherited by a child and are not meant for us).
    """
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = environ.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        usec = int(usec)
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2e6


def _clean(text):
    """A STATUS value must stay on one line: a newline would start a new field."""
    return " ".join(str(text).splitlines())


class Notifier:
    """Talks to the service manager, if there is one.

    `watchdog()` is meant to be called from the scheduler's own loop, on every
    iteration: it sends WATCHDOG=1 at most once per `watchdog_interval`, so a frozen
    scheduler stops the pings and systemd restarts the service.
    """

    def __init__(self, environ=None, clock=time.monotonic):
        environ = os.environ if environ is None else environ
        self._clock = clock
        self._sock = None
        self._addr = None
        self._warned = False
        self._last_ping = None
        self._held = False
        self.watchdog_interval = None
        value = environ.get("NOTIFY_SOCKET", "")
        if not value:
            self.enabled = False
            return
        self._addr = _address(value)
        if self._addr is None:
            log.warning("NOTIFY_SOCKET=%r is not a socket path or @abstract name; "
                        "not notifying systemd", value)
            self.enabled = False
            return
        try:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)
        except OSError as e:
            log.warning("cannot create the notify socket: %s; not notifying systemd", e)
            self.enabled = False
            return
        self.enabled = True
        self.watchdog_interval = _watchdog_interval(environ)

    # -- the protocol -------------------------------------------------------------

    def send(self, *fields):
        """Send `KEY=value` fields in one datagram; return True if it was sent."""
        sock = self._sock
        if sock is None:
            return False
        try:
            sock.sendto("\n".join(fields).encode("utf-8", "replace"), self._addr)
            return True
        except (OSError, ValueError) as e:
            # ENOENT/ECONNREFUSED: the socket went away; EAGAIN: the manager is not
            # reading. Either way the music goes on.
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd via NOTIFY_SOCKET: %s "
                            "(further failures are not logged)", e)
            return False

    def ready(self, status=None):
        """READY=1: ports are open and the model is loaded (also after a reload)."""
        if self._sock is None:
            return
        fields = ["READY=1"]
        if status is not None:
            fields.append("STATUS=" + _clean(status))
        fields.append(f"MAINPID={os.getpid()}")
        self.send(*fields)

    def watchdog(self):
        """WATCHDOG=1, at most once per watchdog_interval; cheap to call every loop."""
        if self.watchdog_interval is None or self._sock is None or self._held:
            return
        now = self._clock()
        last = self._last_ping
        if last is not None and now - last < self.watchdog_interval:
            return
        if self.send("WATCHDOG=1"):
            self._last_ping = now      # a failed ping is retried on the next call

    def hold_watchdog(self, held):
        """While held, watchdog() pings nothing: the scheduler loop still runs, but the
        service is not working (its MIDI client is lost), and systemd should restart
        it if that lasts longer than WatchdogSec."""
        self._held = held

    def status(self, text):
        """STATUS=...: one line shown by `systemctl status jazzd`."""
        if self._sock is None:
            return
        self.send("STATUS=" + _clean(text))

    def reloading(self):
        """RELOADING=1 with MONOTONIC_USEC, at the start of a SIGHUP reload.

        Send ready() again when the reload is done.
        """
        if self._sock is None:
            return
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self):
        """STOPPING=1: shutdown has begun."""
        if self._sock is None:
            return
        self.send("STOPPING=1")

    def close(self):
        """Stop notifying; every method is a no-op afterwards."""
        sock, self._sock = self._sock, None
        self.enabled = False
        self.watchdog_interval = None
        if sock is not None:
            sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
