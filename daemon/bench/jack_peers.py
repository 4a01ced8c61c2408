"""JACK MIDI peers that measure jazzd from outside: a keyboard that plays into it and a
recorder that listens to it. `jazzd bench` and the integration tests share them.

They are built on the daemon's own JACK ports (`jazzd.live.jack_midi`), so they are
sample-accurate: the recorder stamps what it hears with the frame it came in at, and
the keyboard can play a message at an exact time (`send(..., at=t)`, handed over at
least a period ahead), as a DAW's sequencer does.
"""

import select
import threading
import time

from jazzd.live.jack_midi import JackInput, JackOutput


PRIORITY = 20      # SCHED_FIFO for the bridges' pipe readers, as the daemon's (if allowed)


class PortNotFound(LookupError):
    """No JACK port with that name (the message lists the ports there are)."""


def _connect(port, name_part, timeout):
    """Connect `port` to the first peer port whose name contains `name_part`."""
    deadline = time.monotonic() + timeout
    while True:
        names = port._peers()
        for n in names:
            if name_part in n:
                port._connect(n)
                return
        if time.monotonic() > deadline:
            raise PortNotFound(f"no JACK port containing {name_part!r} in {names}")
        time.sleep(0.02)


class Recorder:
    """A JACK MIDI input that records (arrival time, bytes) of everything it hears."""

    def __init__(self, client, connect_to=None, virtual=None, timeout=5.0):
        self.events = []
        self._lock = threading.Lock()
        self.port = JackInput(f"ear {client}", bool(virtual), connect_to or client,
                              client_name=client, port=virtual or "in", priority=PRIORITY)
        if virtual:
            self.port.open()
        else:
            _connect(self.port, connect_to, timeout)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self):
        port = self.port
        while not self._halt.is_set():
            select.select((port,), (), (), 0.05)
            self._read()

    def _read(self):
        with self._lock:
            if self.port.bridge is None:
                return
            self.events.extend((t, tuple(data)) for t, data in self.port.drain())

    def snapshot(self):
        self._read()
        with self._lock:
            return list(self.events)

    def take(self):
        """The events heard since the last `take`, removed from `events`."""
        self._read()
        with self._lock:
            new, self.events = self.events, []
        return new

    def wait_for(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.snapshot()):
                return True
            time.sleep(0.01)
        return False

    def close(self):
        self._halt.set()
        self._thread.join(1)
        with self._lock:
            self.port.close()


class Keyboard:
    """A JACK MIDI output playing into the daemon (connected, or as a virtual port).

    `send` plays at once, or at `at` (a `time.monotonic()` time, handed over at least
    `lead` seconds ahead); `self.at`, when set, is the time a plain `send` plays at
    (the clock master sets it while a chart plays on its tick)."""

    def __init__(self, client, connect_to=None, virtual=None, timeout=5.0):
        self.port = JackOutput(f"keys {client}", bool(virtual), connect_to or client,
                               client_name=client, port=virtual or "out", priority=PRIORITY)
        if virtual:
            self.port.open()
        else:
            _connect(self.port, connect_to, timeout)
        self.rt = self              # the tests' `kb.rt.send_message`, as with rtmidi
        self.at = None
        # as a DAW computes its MIDI a buffer ahead: a master's tick is handed over
        # well before its frame, so a stall of this (Python) process up to 20 ms does
        # not make it late
        self.lead = self.port.period() + 0.020

    def send(self, *msg, at=None):
        self.port.send(list(msg), at if at is not None else self.at)

    def send_message(self, msg, at=None):
        """Send a list of bytes (the `send` a `jazzd.live.scheduler.Scheduler` takes)."""
        return self.port.send(msg, at if at is not None else self.at)

    def chord(self, notes, velocity=80, channel=0):
        for n in notes:
            self.send(0x90 | channel, n, velocity)

    def release(self, notes, channel=0):
        for n in notes:
            self.send(0x80 | channel, n, 0)

    def flush(self, timeout=0.5):
        """Wait until everything sent has been played."""
        deadline = time.monotonic() + timeout
        while self.port.pending() and time.monotonic() < deadline:
            time.sleep(0.001)

    def close(self):
        self.flush()
        time.sleep(2 * self.port.period())
        self.port.close()
