"""JACK MIDI ports on the audio system's own clock, through JACK-Client.

JACK-Client (CFFI) loads the system's libjack, so the same code runs on a jackd server
and under PipeWire's JACK (`pw-jack jazzd run`). Time is the audio clock's:

- input: every event is stamped with its frame (the cycle's first frame plus the
  event's offset), converted here to `time.monotonic()` from a fresh reading of the
  server's current cycle (frame_clock.py). At 1,024 frames the events of one cycle
  keep their own times (RtMidi gave them all the cycle's start).
- output: the scheduler hands each message over at least one period before it is due
  (`send(data, at)`); the process callback writes it at its frame offset inside the
  cycle that contains its due time: sample-accurate at any period.

The client that the server runs, and its process callback, live in a small process of
their own (`jazzd.live.jack_bridge`: why, there). Here, in the daemon, each port is
that process's pipes plus a control client that is never activated (so the server
never waits for it): it finds and connects peers, lists ports, reads latencies and
hears the server shut down.

One client per port, so the names stay `NAME:in` and `NAME:out` (`virtual:NAME` in the
config), or `jazzd-in`/`jazzd-out` connected to a named peer. Messages come in as
bytes, stamped; `fileno()` is readable when there are some (the dispatcher sleeps
on it).
"""

import json
import logging
import os
import subprocess
import sys
import time

import cffi
import jack

from jazzd.live.frame_clock import FrameClock
from jazzd.live.jack_bridge import HEAD, NOW, parse, record
from jazzd.service.errors import MidiSystemError

log = logging.getLogger("jazzd.midi")

_ffi = cffi.FFI()
_ffi.cdef("""
typedef uint32_t jack_nframes_t;
typedef struct { jack_nframes_t min; jack_nframes_t max; } jack_latency_range_t;
void jack_port_get_latency_range(void *port, int mode, jack_latency_range_t *range);
""")
_lib = _ffi.dlopen("libjack.so.0")
CAPTURE, PLAYBACK = 0, 1          # jack_latency_callback_mode_t
START_TIMEOUT = 5.0               # s for a bridge process to say ready

HOW_TO_START = (
    "no JACK server is running{server}. On a PipeWire desktop run jazzd under PipeWire's "
    "JACK: `pw-jack jazzd run` (Debian/Ubuntu package pipewire-jack); with JACK itself, "
    "start it first, e.g. `jackd -d alsa`, or without a sound card "
    "`jackd --no-realtime -d dummy -r 48000 -p 256`; or set `midi.backend: alsa`")


def _addr(cdata):
    return _ffi.cast("void *", int(jack._ffi.cast("uintptr_t", cdata)))


jack.set_error_function(lambda msg: log.debug("libjack: %s", msg))
jack.set_info_function(lambda msg: log.debug("libjack: %s", msg))


def _server_hint():
    name = os.environ.get("JACK_DEFAULT_SERVER")
    return f" (JACK_DEFAULT_SERVER={name})" if name else ""


def _no_server(detail):
    return MidiSystemError("MIDI backend jack: " + HOW_TO_START.format(
        server=_server_hint()) + f" ({detail})")


def open_client(name):
    """A new JACK client (renamed by the server if `name` is taken), or MidiSystemError."""
    try:
        return jack.Client(name, no_start_server=True)
    except jack.JackError as e:
        raise _no_server(e) from None


def list_ports():
    """(ports our input can read from, ports our output can play into)."""
    client = open_client("jazzd-ports")
    try:
        src = [p.name for p in client.get_ports(is_midi=True, is_output=True)]
        dst = [p.name for p in client.get_ports(is_midi=True, is_input=True)]
        return src, dst
    finally:
        client.close()


class BridgeProcess:
    """The process that runs our JACK client (jazzd.live.jack_bridge), and its pipes."""

    def __init__(self, direction, client_name, port_name, priority=0):
        spec = json.dumps({"direction": direction, "client": client_name,
                           "port": port_name, "priority": priority})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jazzd.live.jack_bridge", spec],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True)
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._rest = b""
        self.gone = False            # the process ended, or the server shut it down
        self.stats = {}
        ready = self._wait_for((b"R", b"F"), START_TIMEOUT)
        if ready is None:
            self.close()
            raise _no_server("the JACK client process did not start")
        kind, _t, payload = ready
        if kind == b"F":
            self.close()
            raise _no_server(payload.decode("utf-8", "replace"))
        self.info = json.loads(payload)
        os.set_blocking(self._out, False)

    def fileno(self):
        return self._out

    def _wait_for(self, kinds, timeout):
        """Read (blocking) until a record of one of `kinds`; the others are dropped."""
        import select
        deadline = time.monotonic() + timeout
        while True:
            records, self._rest = parse(self._rest)
            for rec in records:
                if rec[0] in kinds:
                    return rec
            left = deadline - time.monotonic()
            if left <= 0 or not select.select((self._out,), (), (), left)[0]:
                return None
            chunk = os.read(self._out, 65536)
            if not chunk:
                self.gone = True
                return None
            self._rest += chunk

    def read(self):
        """The records available now (non-blocking): [(kind, time, payload)]."""
        try:
            chunk = os.read(self._out, 262144)
            if not chunk:
                self.gone = True
            self._rest += chunk
        except BlockingIOError:
            pass
        except (OSError, ValueError):
            self.gone = True
        records, self._rest = parse(self._rest)
        out = []
        for rec in records:
            if rec[0] == b"S":
                self.stats = json.loads(rec[2])
            elif rec[0] == b"X":
                self.gone = True
            else:
                out.append(rec)
        return out

    def write(self, data):
        try:
            os.write(self._in, data)
            return True
        except (OSError, ValueError):
            self.gone = True
            return False

    def query(self, timeout=0.5):
        """Fresh counters from the process (for an output, whose pipe only we read)."""
        if self.write(record(b"Q")):
            rec = self._wait_for((b"S",), timeout)
            if rec is not None:
                self.stats = json.loads(rec[2])
        return self.stats

    def alive(self):
        return not self.gone and self.proc.poll() is None

    def close(self, wait=2.0):
        """Close its pipe: it plays what it holds, closes the client and exits."""
        for f in (self.proc.stdin, ):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            self.proc.stdout.close()
        except OSError:
            pass


class _JackPort:
    """What the input and output share: the bridge process (our client and port), the
    control client (peers, connections, latency), connect and reconnect.

    `spec` is the config text: "virtual:NAME" (a client NAME with a port `in`/`out`
    that others connect to) or part of a peer's port name to connect to.
    """

    direction = None

    def __init__(self, spec, virtual, target, own_clients=(), client_name=None, port=None,
                 priority=0):
        self.backend = "jack"
        self.spec = spec
        self.virtual, self.target = virtual, target
        self.own_clients = tuple(own_clients)
        self.connected = False
        self.port_name = None
        self.server_gone = False
        self.control = open_client("jazzd-control")
        self.control.set_shutdown_callback(self._shut_down)
        self.clock = FrameClock(self.control)
        try:
            self.bridge = BridgeProcess(self.direction, client_name or (
                target if virtual else f"jazzd-{self.direction}"), port or self.direction,
                priority)
        except BaseException:
            self.control.close()
            raise
        self.client_name = self.bridge.info["client"]
        self.own_port = self.bridge.info["port"]
        self.rate = self.bridge.info["rate"]
        self.frames = self.bridge.info["period"]
        self._stats = {}

    def _shut_down(self, status, reason):
        self.server_gone = True
        self.connected = False

    def alive(self):
        """Is our client's process still running a client of the server?"""
        return self.bridge is not None and self.bridge.alive()

    def _peers(self):
        """Names of the ports we could connect to (theirs, for our direction)."""
        want_output = self.direction == "in"
        return [p.name for p in self.control.get_ports(
            is_midi=True, is_output=want_output, is_input=not want_output)]

    def _matching(self):
        from jazzd.live.port_specs import find_port
        names = self._peers()
        own = self.own_clients + (self.client_name,)
        i = find_port(names, self.target, own)
        return names, (None if i is None else names[i])

    def open(self, wait=False):
        """Create the port, or connect to the named one; a UserError if it is missing
        (with `wait`, stay unconnected until `try_reconnect` finds it)."""
        from jazzd.live.port_specs import missing_port_text
        if self.virtual:
            self.port_name = self.own_port
            self.connected = True
            return self
        names, peer = self._matching()
        if peer is None:
            text = missing_port_text(self.direction, self.spec, "jack", names)
            if wait:
                self.missing = text
                return self
            raise MidiSystemError(text)
        self._connect(peer)
        return self

    def _connect(self, peer):
        src, dst = (peer, self.own_port) if self.direction == "in" \
            else (self.own_port, peer)
        try:
            self.control.connect(src, dst)
        except jack.JackError as e:
            raise MidiSystemError(f"cannot connect to MIDI port {peer!r}: {e}") from None
        self.port_name = peer
        self.connected = True

    def present(self):
        """Is the peer port still there? (A virtual port is ours: while it runs.)"""
        if self.server_gone or not self.alive():
            return False
        if self.virtual:
            return True
        try:
            return self.port_name in self._peers()
        except jack.JackError:
            return False

    def drop(self):
        """The peer went away: not connected until it is back."""
        self.connected = False
        if self.port_name is not None and not self.virtual and not self.server_gone:
            src, dst = (self.port_name, self.own_port) if self.direction == "in" \
                else (self.own_port, self.port_name)
            try:
                self.control.disconnect(src, dst)
            except jack.JackError:
                pass

    def try_reconnect(self):
        if self.connected:
            return True
        if self.control is None or self.server_gone or not self.alive():
            return False
        try:
            _names, peer = self._matching()
            if peer is None:
                return False
            self._connect(peer)
        except (MidiSystemError, jack.JackError):
            return False
        return True

    def connections(self):
        """The ports connected to ours (a user's patch), to restore after a reopen."""
        if self.control is None or self.server_gone:
            return []
        try:
            return [p.name for p in self.control.get_all_connections(self.own_port)]
        except jack.JackError:
            return []

    def restore(self, peers):
        """Connect again the ports `connections()` listed (those still there)."""
        for peer in peers:
            src, dst = (peer, self.own_port) if self.direction == "in" \
                else (self.own_port, peer)
            try:
                self.control.connect(src, dst)
            except jack.JackError:
                pass

    def latency(self, mode):
        """Our port's latency range's maximum in frames (CAPTURE or PLAYBACK)."""
        if self.control is None or self.server_gone:
            return 0
        try:
            port = self.control.get_port_by_name(self.own_port)
        except jack.JackError:
            return 0
        rng = _ffi.new("jack_latency_range_t *")
        _lib.jack_port_get_latency_range(_addr(port._ptr), mode, rng)
        return rng.max

    def period(self):
        """The period in seconds."""
        return self.frames / self.rate

    @property
    def late_cycles(self):
        return self._stats.get("late_cycles", 0)

    def stats(self):
        """The bridge's counters (cycles finished late, messages played late, ...)."""
        return dict(self._stats)

    def close(self, bury_clients=False):
        """End the bridge process (it closes its client after playing what it holds)
        and close the control client; again is a no-op. With `bury_clients` (the
        server shut us down) the control client is not called into libjack: it is
        kept for ever (graveyard.GRAVEYARD)."""
        self.connected = False
        bridge, self.bridge = self.bridge, None
        if bridge is not None:
            self._stats = bridge.query(0.2) if bridge.alive() else bridge.stats
            bridge.close()
        self.clock = None                 # it reads through the control client
        control, self.control = self.control, None
        if control is None:
            return
        if bury_clients or self.server_gone:
            from jazzd.live.graveyard import bury
            bury(control)
            return
        try:
            control.close()
        except jack.JackError:
            pass


class JackInput(_JackPort):
    """A MIDI input stamped in frames; `drain()` hands over (time, bytes) pairs."""

    direction = "in"

    def __init__(self, spec, virtual, target, own_clients=(), **names):
        self.received = 0
        self.read_errors = 0
        self.last_read_error = None
        self.latency_frames = 0         # the capture latency upstream (a hardware port)
        self._pending = []
        super().__init__(spec, virtual, target, own_clients, **names)

    def fileno(self):
        bridge = self.bridge
        if bridge is None:
            raise ValueError("the port is closed")
        return bridge.fileno()

    def drain(self, now=None, limit=1024):
        """The messages that arrived since the last call: [(time, bytes)], oldest
        first, their times the frames they came in at."""
        bridge = self.bridge
        if bridge is None:
            return []
        shift = self.latency_frames / self.rate
        out = self._pending
        clock = self.clock
        if clock is None:
            return []
        heard = [(f, data) for kind, f, data in bridge.read() if kind == b"E"]
        if heard:                         # one reading of the server's counter a batch
            to_monotonic, reading = clock.to_monotonic, clock.reading()
            out.extend((to_monotonic(f, reading) - shift, data) for f, data in heard)
        if bridge.stats:
            self._stats = bridge.stats
        if len(out) > limit:
            out, self._pending = out[:limit], out[limit:]
        else:
            self._pending = []
        self.received += len(out)
        return out

    def refresh_latency(self):
        """Read the capture latency of what feeds us (a hardware port's period), and
        ask for fresh counters (they come in with the messages)."""
        self.latency_frames = self.latency(CAPTURE)
        if self.bridge is not None:
            self.bridge.write(record(b"Q"))


class JackOutput(_JackPort):
    """A MIDI output that plays each message at the frame it is due.

    `send(data, at)`: `at` is a `time.monotonic()` time, handed over at least one
    period early (`period()`), or None for as soon as possible (in the next cycle,
    ahead of any message still waiting for its frame). Timed messages must be handed
    over in the order they are due (the scheduler's heap order). `cancel()`
    drops what is pending for later but note-offs, which go out at once.
    """

    direction = "out"

    def __init__(self, spec, virtual, target, own_clients=(), **names):
        self.sent = 0
        self.errors = 0
        super().__init__(spec, virtual, target, own_clients, **names)

    def send(self, data, at=None):
        """Queue one message (a list of ints); never raises, False if not connected."""
        bridge, clock = self.bridge, self.clock
        if not self.connected or bridge is None or clock is None:
            return False
        payload = bytes(data)
        frame = NOW if at is None else clock.to_frame(at)
        if not bridge.write(HEAD.pack(b"M", frame, len(payload)) + payload):
            self.errors += 1
            return False
        self.sent += 1
        return True

    def cancel(self):
        """Drop the messages handed over for a later time and not played yet, except
        note-offs, which go out at once (a silence)."""
        if self.bridge is not None:
            self.bridge.write(record(b"C"))

    def refresh(self):
        """Fresh counters from the bridge."""
        if self.bridge is not None and self.bridge.alive():
            self.bridge.read()
            self._stats = self.bridge.query()
        return self._stats

    def pending(self):
        return self.refresh().get("pending", 0)

    @property
    def late_writes(self):
        return self._stats.get("late_writes", 0)

    @property
    def max_late(self):
        return self._stats.get("max_late", 0.0)

    def playback_latency(self):
        """Seconds between our frame and the sound downstream (a synth's audio output;
        0 into another MIDI client): what `latency_compensation_ms: auto` plays early."""
        return self.latency(PLAYBACK) / self.rate
