"""MIDI ports for the daemon: open by config text, fail with clear errors.

A port is named in the config as `"virtual:NAME"` (we create it, others connect to it)
or as any other text (we connect to the first existing port whose name contains it,
case-insensitively).

Two backends behind one contract (`open_port`):

- jack: `jazzd.live.jack_midi`, on JACK-Client and the system's libjack (so PipeWire's
  JACK too), every message stamped and played in frames;
- alsa: the ALSA sequencer through python-rtmidi, used directly rather than through
  mido's port classes (the ignore flags: rtmidi drops MIDI clock by default).

An input: `drain()` hands over `[(arrival time, bytes)]`, and `fileno()` is readable
when there is something to drain (the dispatcher sleeps on it: no polling). An output:
`send(data, at=None)`, thread-safe, never raises; `cancel()` drops what is pending
but note-offs. Both: `open`, `present`, `drop`, `try_reconnect`, `close`, `connected`,
`port_name`.
"""

import collections
import logging
import os
import tempfile
import threading
import time

from jazzd.live.doorbell import Doorbell
from jazzd.live.graveyard import bury
from jazzd.live.port_specs import find_port, missing_port_text, parse_spec  # noqa: F401
from jazzd.service.errors import ConfigError, MidiSystemError

log = logging.getLogger("jazzd.midi")

BACKENDS = ("alsa", "jack")   # python-rtmidi is imported for ALSA only: its wheel
                              # carries a libjack of its own, which JACK must not meet

HOW_TO_START = {
    "alsa": ("the ALSA sequencer is missing (/dev/snd/seq does not exist). Load it with "
             "`sudo modprobe snd-seq` (add `snd-seq` to /etc/modules to keep it), check "
             "that this user is in the `audio` group, or set `midi.backend: jack` and "
             "run a JACK server"),
}


class _QuietStderr:
    """Capture C-level stderr (libjack and alsa-lib print there) while opening a client.

    Without this a missing JACK server prints five lines of library noise before our
    one clear message. The captured text goes to the debug log, line by line.
    """

    def __enter__(self):
        self.text = ""
        try:
            self._tmp = tempfile.TemporaryFile()
            self._saved = os.dup(2)
            os.dup2(self._tmp.fileno(), 2)
        except OSError:
            self._saved = None
        return self

    def __exit__(self, *exc):
        if self._saved is None:
            return False
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        self.text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        for line in self.text.splitlines():
            if line.strip():
                log.debug("MIDI library: %s", line.strip())
        return False






def _close_clients(clients, backend):
    """Close the ports of rtmidi objects, then delete them."""
    import rtmidi
    for rt in clients:
        try:
            rt.close_port()
        except (rtmidi.RtMidiError, RuntimeError):
            pass
    for rt in clients:
        try:
            rt.delete()
        except (rtmidi.RtMidiError, RuntimeError):
            pass


def _server_hint():
    name = os.environ.get("JACK_DEFAULT_SERVER")
    return f" (JACK_DEFAULT_SERVER={name})" if name else ""


def _check_backend(backend):
    if backend not in BACKENDS:
        raise ConfigError(f"unknown MIDI backend {backend!r}; allowed: {', '.join(BACKENDS)}")


def _client(kind, backend, name):
    """A new rtmidi MidiIn/MidiOut client (ALSA), or MidiSystemError saying how."""
    import rtmidi
    _check_backend(backend)
    if backend == "alsa" and not os.path.exists("/dev/snd/seq"):
        raise MidiSystemError("MIDI backend alsa: " + HOW_TO_START["alsa"])
    try:
        with _QuietStderr():
            if kind == "in":
                return rtmidi.MidiIn(rtapi=rtmidi.API_LINUX_ALSA, name=name,
                                     queue_size_limit=1024)
            return rtmidi.MidiOut(rtapi=rtmidi.API_LINUX_ALSA, name=name)
    except (rtmidi.RtMidiError, RuntimeError, OSError) as e:
        msg = HOW_TO_START[backend].format(server=_server_hint())
        raise MidiSystemError(f"MIDI backend {backend}: {msg} ({e})") from None


def _jack_module():
    """jazzd.live.jack_midi, or MidiSystemError if the system has no libjack."""
    try:
        from jazzd.live import jack_midi
    except (OSError, ImportError) as e:
        raise MidiSystemError(
            f"MIDI backend jack: cannot load JACK's library libjack ({e}). Install "
            f"jackd2 (or, on a PipeWire desktop, pipewire-jack and run jazzd under "
            f"`pw-jack`), or set `midi.backend: alsa`") from None
    return jack_midi


def list_ports(backend):
    """(input port names, output port names) that the backend can see right now."""
    _check_backend(backend)
    if backend == "jack":
        return _jack_module().list_ports()
    mi = _client("in", backend, "jazzd-ports")
    mo = _client("out", backend, "jazzd-ports")
    try:
        return mi.get_ports(), mo.get_ports()
    finally:
        mi.delete()
        mo.delete()


def _missing_port(direction, spec, backend, names):
    # A device that is not there is the environment, not the configuration: exit 69,
    # which systemd's Restart=on-failure retries (a USB keyboard that enumerates late).
    return MidiSystemError(missing_port_text(direction, spec, backend, names))


class _Port:
    """What inputs and outputs share: the client, the spec, connect and reconnect."""

    direction = None       # "in" or "out"

    def __init__(self, backend, spec, own_clients=()):
        self.backend = backend
        self.spec = spec
        self.virtual, self.target = parse_spec(spec)
        self.own_clients = tuple(own_clients)
        self.client_name = self.target if self.virtual else f"jazzd-{self.direction}"
        self.port_name = None        # the peer we are connected to (or our virtual name)
        self.connected = False
        self._lock = threading.Lock()
        self._rt = _client(self.direction, backend, self.client_name)

    def _after_open(self):
        """Hook for the input: set the ignore flags, restart the arrival times."""

    def open(self, wait=False):
        """Create the virtual port or connect to the named one; ConfigError if missing.

        With `wait`, a missing named port is not an error: the port stays unconnected
        (`connected` False) until `try_reconnect` finds it.
        """
        if self.virtual:
            with _QuietStderr():
                self._rt.open_virtual_port(self.direction)
            self.port_name = f"{self.client_name}:{self.direction}"
        else:
            names = self._rt.get_ports()
            i = find_port(names, self.target, self.own_clients)
            if i is None:
                if wait:
                    self.missing = missing_port_text(self.direction, self.spec,
                                                     self.backend, names)
                    return self
                raise _missing_port(self.direction, self.spec, self.backend, names)
            self._connect(i, names[i])
        self._after_open()
        self.connected = True
        return self

    def _connect(self, index, name):
        import rtmidi
        with self._lock:
            try:
                self._rt.open_port(index, self.direction)
            except (rtmidi.RtMidiError, RuntimeError) as e:
                raise MidiSystemError(f"cannot connect to MIDI port {name!r}: {e}") from None
            self.port_name = name

    def present(self):
        """Is the peer port still there? (A virtual port is ours: always.)"""
        import rtmidi
        if self.virtual:
            return True
        try:
            names = self._rt.get_ports()
        except (rtmidi.RtMidiError, RuntimeError):
            return False
        return self.port_name in names

    def drop(self):
        """The peer went away: close our end, keep the client for a later reconnect."""
        with self._lock:
            self.connected = False
            self._close_port()

    def _close_port(self):
        import rtmidi
        try:
            self._rt.close_port()
        except (rtmidi.RtMidiError, RuntimeError):
            pass

    def try_reconnect(self):
        """If a matching port exists again, connect to it; return True if connected."""
        if self.connected:
            return True
        if self._rt is None:
            return False                # closed for good
        names = self._rt.get_ports()
        i = find_port(names, self.target, self.own_clients)
        if i is None:
            return False
        try:
            self._connect(i, names[i])
        except MidiSystemError:
            return False
        self._after_open()
        self.connected = True
        return True

    def _clients(self):
        """Every rtmidi object of this port."""
        return [self._rt] if self._rt is not None else []

    def close(self, bury_clients=False):
        """Close the port and delete the client; again is a no-op. With `bury_clients`
        (the JACK server shut our clients down, or the process is about to exit and
        its end will close them: daemon.EXIT_DRAIN) nothing is called in libjack: the
        clients are buried (see GRAVEYARD). The port is taken out of use under its
        lock first (not connected, no client left to reach), so no other thread reads
        or sends through a client while it is closed."""
        with self._lock:
            self.connected = False
            clients = self._clients()
            self._forget_clients()
        if bury_clients:
            for rt in clients:
                bury(rt)
            return
        _close_clients(clients, self.backend)

    def _forget_clients(self):
        self._rt = None


class ArrivalTimes:
    """`time.monotonic()` arrival times rebuilt from rtmidi's per-message delta times.

    rtmidi stamps each message with the time since the previous one, measured by the
    backend when the message arrived (JACK: in its process cycle; ALSA: the sequencer
    queue's event time). Summed, these give arrival times on the backend's clock, up
    to an unknown offset. Every message was read after it arrived, so each one bounds
    the offset from above (`read time - sum`); the smallest bound is the estimate. It
    creeps up slowly (CREEP seconds per second) so the two clocks may drift apart.

    The read time must be taken *after* the messages were taken from rtmidi's queue
    (`stamp_batch`): a time read before them is no bound for a message that arrived in
    between. The dispatcher used to read the clock first; a thread switch between the
    two (another thread holding the GIL, a loaded machine) then dragged the offset
    early by as long as the switch took, 19 ms once in a 1-hour soak, and every later
    stamp was that much early until the creep had made it up (19 s). Inside a stall of
    the master that made the clock count a tick too few, for the rest of the song.
    """

    CREEP = 1e-3

    def __init__(self):
        self.reset()

    def reset(self):
        self._sum = None
        self._offset = 0.0
        self._last = 0.0

    def stamp_batch(self, deltas, now, anchor=False):
        """The arrival times of messages taken from the queue together, in order, all
        before `now` was read. The last one bounds the offset best (largest sum); all
        are stamped with the offset it gives, so the intervals inside the batch are
        rtmidi's own. `anchor`: the chain of deltas broke before the first of them (a
        sysex that rtmidi joined from several events keeps only the last one's delta,
        so the sum falls short by the rest); the offset restarts from their bound."""
        sums = []
        total = self._sum
        for delta in deltas:
            total = 0.0 if total is None else total + delta
            sums.append(total)
        if not sums:
            return sums
        if self._sum is None or anchor:
            self._offset = now - total    # the first batch anchors the offset
        else:
            bound = now - total
            offset = self._offset + self.CREEP * (now - self._last)
            self._offset = bound if bound < offset else offset
        self._sum = total
        self._last = now
        offset = self._offset
        return [offset + s for s in sums]


class InputPort(_Port):
    """An ALSA input: rtmidi's callback stamps each message and queues it.

    On ALSA the callback runs on rtmidi's own input thread, which no audio cycle
    waits for: it takes the interpreter lock, stamps the message from rtmidi's delta
    time (ArrivalTimes), queues it, and wakes the dispatcher through `fileno()`.
    """

    direction = "in"

    def __init__(self, backend, spec, own_clients=()):
        self.received = 0
        self.read_errors = 0           # reads that raised (counted, reported in STATUS)
        self.last_read_error = None
        self.times = ArrivalTimes()
        self._queue = collections.deque()
        self._bell = Doorbell()
        super().__init__(backend, spec, own_clients)

    def _after_open(self):
        # Nothing is ignored by rtmidi: the delta times must chain through every
        # message, and we need MIDI clock, which rtmidi ignores by default. The
        # dispatcher drops sysex and active sensing itself.
        self._rt.ignore_types(sysex=False, timing=False, active_sense=False)
        self.times.reset()
        self._rt.set_callback(self._heard)

    def _heard(self, msg, _data=None):
        try:
            data, delta = msg
            t = self.times.stamp_batch((delta,), time.monotonic())[0]
            self._queue.append((t, bytes(data)))
        except Exception as e:  # noqa: BLE001 - a bad read must not stop us
            self.read_errors += 1
            self.last_read_error = f"{type(e).__name__}: {e}"
        self._bell.ring()

    def fileno(self):
        return self._bell.fileno()

    def drain(self, now=None, limit=1024):
        """The messages that arrived since the last call: [(arrival time, bytes)]."""
        self._bell.clear()
        q = self._queue
        out = []
        pop = q.popleft
        while q and len(out) < limit:
            out.append(pop())
        if q:
            self._bell.ring()
        self.received += len(out)
        return out

    def close(self, bury_clients=False):
        super().close(bury_clients)
        self._bell.close()


class OutputPort(_Port):
    """An ALSA output; `send` is thread-safe, never raises, and returns False on failure.
    The sequencer plays what it gets at once: `at` is the caller's business."""

    direction = "out"

    def __init__(self, backend, spec, own_clients=()):
        self.sent = 0
        self.errors = 0
        super().__init__(backend, spec, own_clients)

    def send(self, data, at=None):
        with self._lock:
            if not self.connected:
                return False
            try:
                self._rt.send_message(data)
                self.sent += 1
                return True
            except Exception:      # noqa: BLE001 - a failed send must not stop the music
                self.errors += 1
                return False

    def cancel(self):
        """Nothing is ever pending on ALSA."""

    def period(self):
        return None


def _own_clients(midi_cfg):
    """Client names of ours, which a named port never connects to (no loops)."""
    own = []
    for spec in (midi_cfg["input"], midi_cfg["output"]):
        virtual, name = parse_spec(spec)
        if virtual:
            own.append(name)
    return own + ["jazzd-in", "jazzd-out"]


def open_port(direction, midi_cfg):
    """Open the configured input ("in") or output ("out"): the port, or a UserError."""
    key = "input" if direction == "in" else "output"
    backend = midi_cfg["backend"]
    _check_backend(backend)
    if backend == "jack":
        jack_midi = _jack_module()
        cls = jack_midi.JackInput if direction == "in" else jack_midi.JackOutput
        virtual, target = parse_spec(midi_cfg[key])
        port = cls(midi_cfg[key], virtual, target, _own_clients(midi_cfg),
                   priority=midi_cfg.get("realtime_priority", 0))
    else:
        cls = InputPort if direction == "in" else OutputPort
        port = cls(backend, midi_cfg[key], _own_clients(midi_cfg))
    try:
        return port.open(midi_cfg.get("wait_for_ports", True))
    except BaseException:
        port.close()
        raise


def open_ports(midi_cfg):
    """Open the configured input and output; (InputPort, OutputPort) or a UserError."""
    inp = open_port("in", midi_cfg)
    try:
        return inp, open_port("out", midi_cfg)
    except BaseException:
        inp.close()
        raise
