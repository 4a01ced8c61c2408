"""MIDI ports for the daemon, on python-rtmidi: open by config text, fail with clear errors.

A port is named in the config as `"virtual:NAME"` (we create it, others connect to it)
or as any other text (we connect to the first existing port whose name contains it,
case-insensitively). The ports are used through python-rtmidi directly rather than
through mido's port classes, because the daemon needs three things mido hides: the
ignore flags (rtmidi drops MIDI clock by default, and we need clock), input that runs
no Python on MIDI's own thread (mido parses inside a callback), and closing
and reopening a port on the same client when a device comes back.

Messages stay raw (lists of ints) on the hot path: the dispatcher thread parses them.
Input is polled, not called back: see InputPort for why.
"""

import logging
import os
import tempfile
import threading
import time

import rtmidi

from jazzd.service.errors import ConfigError, MidiSystemError

log = logging.getLogger("jazzd.midi")

BACKENDS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK}
VIRTUAL = "virtual:"

HOW_TO_START = {
    "alsa": ("the ALSA sequencer is missing (/dev/snd/seq does not exist). Load it with "
             "`sudo modprobe snd-seq` (add `snd-seq` to /etc/modules to keep it), check "
             "that this user is in the `audio` group, or set `midi.backend: jack` and "
             "run a JACK server"),
    "jack": ("no JACK server is running{server}. Start one, e.g. "
             "`jackd -d alsa` with a sound card, or without hardware "
             "`JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -d dummy -r 48000 -p 64`; "
             "with PipeWire, install its JACK support (pipewire-jack); "
             "or set `midi.backend: alsa`"),
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


# Clients of a JACK server that has gone away, kept here and never touched again.
# libjack (JACK2, to 1.9.22 at least) frees every client of the process the next time
# any client is opened while the server is down ("Jack server was closed but clients
# are still allocated, cleanup..."); rtmidi still holds those pointers, and closing a
# port or deleting the rtmidi object afterwards (jack_port_unregister,
# jack_client_close) is a use after free: the SIGSEGV a server restart used to cause.
# So a dead server's clients are neither closed nor deleted, here or at interpreter
# exit: a few KB per server restart.
GRAVEYARD = []


# rtmidi's JACK output (RtMidi 5.0.0 in python-rtmidi 1.5.8, unchanged upstream) frees
# its ring buffer in ~MidiOutJack *before* it closes its JACK client, while the client's
# process callback may still be running on libjack's thread: a callback that read the
# port before close_port() cleared it goes on to read the freed ring buffer (SIGSEGV in
# jackProcessOut -> jack_ringbuffer_peek; seen when jazzd run stopped on SIGTERM). So an
# output's port is closed first, and its client deleted only once any callback that was
# already running has had time to return (it takes microseconds; this covers a thread
# preempted for a while, and is 15 periods of a 64-frame period at 48 kHz).
JACK_CALLBACK_SETTLE = 0.02     # s


def _close_clients(clients, backend):
    """Close the ports of rtmidi objects, then delete them (see JACK_CALLBACK_SETTLE)."""
    for rt in clients:
        try:
            rt.close_port()
        except (rtmidi.RtMidiError, RuntimeError):
            pass
    if backend == "jack" and any(isinstance(rt, rtmidi.MidiOut) for rt in clients):
        time.sleep(JACK_CALLBACK_SETTLE)
    for rt in clients:
        try:
            rt.delete()
        except (rtmidi.RtMidiError, RuntimeError):
            pass


def bury(obj):
    """Keep `obj` (an rtmidi object or a JackWatch of a dead server) for ever: referenced
    here, and with one reference that is never released, so that not even the
    interpreter's finalisation runs its destructor (which would call into libjack)."""
    import ctypes
    GRAVEYARD.append(obj)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


def _server_hint():
    name = os.environ.get("JACK_DEFAULT_SERVER")
    return f" (JACK_DEFAULT_SERVER={name})" if name else ""


def _client(kind, backend, name):
    """A new rtmidi MidiIn/MidiOut client, or MidiSystemError saying how to get one."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown MIDI backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if backend == "alsa" and not os.path.exists("/dev/snd/seq"):
        raise MidiSystemError("MIDI backend alsa: " + HOW_TO_START["alsa"])
    try:
        with _QuietStderr():
            if kind == "in":
                return rtmidi.MidiIn(rtapi=BACKENDS[backend], name=name,
                                     queue_size_limit=InputPort.QUEUE_SIZE)
            return rtmidi.MidiOut(rtapi=BACKENDS[backend], name=name)
    except (rtmidi.RtMidiError, RuntimeError, OSError) as e:
        msg = HOW_TO_START[backend].format(server=_server_hint())
        raise MidiSystemError(f"MIDI backend {backend}: {msg} ({e})") from None


def jack_period():
    """The JACK server's period in seconds (buffer size / sample rate), or None.

    JACK MIDI goes out at the start of the next period and comes in stamped at the
    start of the period after it arrived, so one period is the typical round trip a
    note on the clock's grid is late by; `midi.latency_compensation_ms: auto` plays
    that much early. Asked through libjack with ctypes: rtmidi does not tell.
    """
    import ctypes
    import ctypes.util
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("jack") or "libjack.so.0")
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_int)]
        for f in (lib.jack_get_buffer_size, lib.jack_get_sample_rate,
                  lib.jack_client_close):
            f.argtypes = [ctypes.c_void_p]
        status = ctypes.c_int(0)
        with _QuietStderr():
            client = lib.jack_client_open(b"jazzd-probe", 0x01, ctypes.byref(status))
        if not client:
            return None
        try:
            frames, rate = lib.jack_get_buffer_size(client), lib.jack_get_sample_rate(client)
        finally:
            lib.jack_client_close(client)
        return frames / rate if frames > 0 and rate > 0 else None
    except (OSError, AttributeError):
        return None


def list_ports(backend):
    """(input port names, output port names) that the backend can see right now."""
    mi = _client("in", backend, "jazzd-ports")
    mo = _client("out", backend, "jazzd-ports")
    try:
        return mi.get_ports(), mo.get_ports()
    finally:
        mi.delete()
        mo.delete()


def parse_spec(spec):
    """`"virtual:NAME"` → (True, NAME); anything else → (False, text to search for)."""
    if spec.startswith(VIRTUAL):
        name = spec[len(VIRTUAL):].strip()
        if not name:
            raise ConfigError(f"bad MIDI port {spec!r}: 'virtual:' needs a name, "
                              f"e.g. 'virtual:jazzd-in'")
        return True, name
    return False, spec


def find_port(names, text, exclude=()):
    """Index of the first name containing `text` (case-insensitive), or None.

    Ports of our own clients (`exclude`: client-name prefixes) never match, so an
    input spec of "jazzd" cannot loop our own output back in.
    """
    want = text.lower()
    for i, name in enumerate(names):
        if any(name.startswith(p + ":") for p in exclude):
            continue
        if want in name.lower():
            return i
    return None


def missing_port_text(direction, spec, backend, names):
    """What to tell the user about a named port that does not exist (yet)."""
    what = "input" if direction == "in" else "output"
    listing = ", ".join(repr(n) for n in names) if names else "none"
    return (f"'midi.{what}': no MIDI {what} port matching {spec!r} on backend {backend}. "
            f"Available {what} ports: {listing}. Use part of one of these names, or "
            f"'virtual:NAME' to create a port that others connect to")


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
        with self._lock:
            try:
                self._rt.open_port(index, self.direction)
            except (rtmidi.RtMidiError, RuntimeError) as e:
                raise MidiSystemError(f"cannot connect to MIDI port {name!r}: {e}") from None
            self.port_name = name

    def present(self):
        """Is the peer port still there? (A virtual port is ours: always.)"""
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
        """Every rtmidi object of this port (the input adds its flusher)."""
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
    """An input read by polling rtmidi's own queue: no Python runs on MIDI's thread.

    A callback that only stamps and queues would be the obvious design. With python-rtmidi
    any callback must take the GIL, and on JACK it runs inside the server's process
    cycle: a Python thread holding the GIL makes the cycle overrun, which loses MIDI
    events (measured here: ~1.5 % with one busy thread) and causes xruns for every
    other JACK client. So rtmidi queues the messages in C++ (`queue_size_limit`
    messages) and the dispatcher drains them every millisecond; arrival times come
    from rtmidi's own timestamps (ArrivalTimes), not from when we read them.
    """

    direction = "in"
    QUEUE_SIZE = 4096
    FLUSH_IDLE = 0.1      # s of silence on a JACK input before an 0xF7 is sent into it

    def __init__(self, backend, spec, own_clients=()):
        self.received = 0
        self.read_errors = 0           # reads that raised (counted, reported in STATUS)
        self.last_read_error = None
        self.times = ArrivalTimes()
        self._flusher = None           # JACK: a client of ours that can send an 0xF7 in
        self._quiet_since = None
        super().__init__(backend, spec, own_clients)

    def _after_open(self):
        # Nothing is ignored by rtmidi: the delta times must chain through every
        # message (rtmidi advances its clock even for messages it then drops), and we
        # need MIDI clock, which rtmidi ignores by default. The dispatcher drops sysex
        # and active sensing itself.
        self._rt.ignore_types(sysex=False, timing=False, active_sense=False)
        self.times.reset()
        if self.backend == "jack":
            self._open_flusher()

    def drain(self, now, limit=1024):
        """The messages that arrived since the last call: [(arrival time, [bytes...])].
        `now` is the caller's time, for noticing a quiet input; the arrival times use
        a time read after the messages (ArrivalTimes)."""
        out = []
        with self._lock:
            if not self.connected:
                return out
            get = self._rt.get_message
            deltas, datas = [], []
            for _ in range(limit):
                try:
                    msg = get()
                except Exception as e:  # noqa: BLE001 - a bad read must not stop us
                    self.read_errors += 1
                    self.last_read_error = f"{type(e).__name__}: {e}"
                    break
                if msg is None:
                    break
                datas.append(msg[0])
                deltas.append(msg[1])
            if datas:                      # read the clock after the queue (ArrivalTimes)
                out = list(zip(self._stamp(deltas, datas, time.monotonic()), datas))
            if out or self._quiet_since is None:
                self._quiet_since = now
            elif self.backend == "jack" and now - self._quiet_since > self.FLUSH_IDLE:
                self._quiet_since = now
                self._flush()
        self.received += len(out)
        return out

    def _stamp(self, deltas, datas, now):
        """Arrival times; each sysex re-anchors them (ArrivalTimes.stamp_batch)."""
        stamp = self.times.stamp_batch
        cuts = [k for k, data in enumerate(datas) if data[0] == 0xF0]
        if not cuts:
            return stamp(deltas, now)
        times = stamp(deltas[:cuts[0]], now)
        for k, end in zip(cuts, cuts[1:] + [len(datas)]):
            times += stamp(deltas[k:end], now, anchor=True)
        return times

    def _flush(self):
        """Send a lone 0xF7 (end of sysex) into our own input port. rtmidi's JACK
        input takes every event after an 0xF0 as sysex data until an event ends with
        0xF7: a sysex cut short (a cable pulled mid-dump) would leave us deaf to every
        chord and clock tick after it. While the input is quiet (and so when it is
        stuck) this ends any such sysex; the messages it swallowed then arrive in one
        piece, which the dispatcher splits as MIDI says. On a healthy input it is one
        ignored byte every FLUSH_IDLE seconds of silence. Runs on the dispatcher
        thread, under the port's lock: it only writes into rtmidi's buffer, never
        opens or closes a JACK client (see _open_flusher)."""
        if self._flusher is None:
            return
        try:
            self._flusher.send_message([0xF7])
        except (rtmidi.RtMidiError, RuntimeError, OSError, ValueError):
            pass

    def _open_flusher(self):
        """The JACK client that sends the flush, connected to our input port: opened
        by the thread that opens the port (the main thread), never by the dispatcher.
        A client opened while the JACK server is down makes libjack free every other
        client of the process (see GRAVEYARD); the dispatcher used to open this one
        lazily, at its first quiet moment, and a server that had just gone away turned
        the next close of our ports into a crash."""
        old, self._flusher = self._flusher, None
        if old is not None:                 # a reconnect: the old one lost its peer
            _close_clients([old], self.backend)
        out = None
        try:
            with _QuietStderr():
                out = rtmidi.MidiOut(rtapi=BACKENDS["jack"], name=f"{self.client_name}-eox")
            own = f"{self.client_name}:{self.direction}"
            names = out.get_ports()
            i = next((k for k, n in enumerate(names) if n == own), None)
            if i is None:
                log.debug("no JACK port %s to send the sysex flush into", own)
                out.delete()
                return
            out.open_port(i, "eox")
        except (rtmidi.RtMidiError, RuntimeError, OSError) as e:
            log.debug("cannot open the sysex flush client: %s", e)
            if out is not None:
                out.delete()
            return
        self._flusher = out

    def _clients(self):
        return super()._clients() + ([self._flusher] if self._flusher is not None else [])

    def _forget_clients(self):
        super()._forget_clients()
        self._flusher = None


class OutputPort(_Port):
    """An output; `send` is thread-safe, never raises, and returns False on failure."""

    direction = "out"

    def __init__(self, backend, spec, own_clients=()):
        self.sent = 0
        self.errors = 0
        super().__init__(backend, spec, own_clients)

    def send(self, data):
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
    cls, key = (InputPort, "input") if direction == "in" else (OutputPort, "output")
    port = cls(midi_cfg["backend"], midi_cfg[key], _own_clients(midi_cfg))
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
