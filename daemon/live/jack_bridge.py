"""The realtime side of a JACK MIDI port: a small process of its own that runs the
JACK client, its process callback and nothing else.

Why a process: JACK-Client calls a Python process callback, which needs the
interpreter lock. In the daemon's process the improviser, dispatcher and scheduler
hold it too; a callback waiting for a thread the OS has preempted misses its cycle (an
asynchronous server then drops that cycle's MIDI; a synchronous one stalls the whole
graph). Here the callback shares the lock only with one thread that reads the
daemon's pipe for a few microseconds at a time, and the collector is off (nothing
here makes cycles).

The daemon talks to it over two pipes, in records of `HEAD` (kind, time, length)
and a payload:

- to it (stdin): `M` a message to play at a frame (`nan`: now, ahead of what waits for its frame), `C` cancel what is
  pending for later but note-offs, `Q` a report please;
- from it (stdout): `R` ready (JSON: client and port names, rate, period) or `F` failed
  (text), `E` a message heard with its frame, `S` a report (JSON counters), `X` the
  server shut the client down.

It ends when the daemon closes its end of the pipe (or dies); it ignores the signals
a service manager sends the whole group, so the daemon's last note-offs still go out.

Time is the audio clock's: an event heard is stamped with its frame (the cycle's first
frame plus the event's offset), a message played is written at the frame it is due.
Times on the pipe are JACK's 32-bit frames; the daemon converts (frame_clock.py).
"""

import collections
import gc
import json
import os
import signal
import struct
import sys
import threading
import time

from jazzd.live.frame_clock import HALF, MASK

HEAD = struct.Struct("<cdH")
CLOSE_TIMEOUT = 1.5            # s for the client to play what it holds and close
NOW = float("nan")


def record(kind, t=0.0, payload=b""):
    return HEAD.pack(kind, t, len(payload)) + payload


def parse(buf):
    """Complete records at the start of `buf`: ([(kind, time, payload)], the rest)."""
    out = []
    i, n, size = 0, len(buf), HEAD.size
    while n - i >= size:
        kind, t, length = HEAD.unpack_from(buf, i)
        if n - i - size < length:
            break
        out.append((kind, t, bytes(buf[i + size:i + size + length])))
        i += size + length
    return out, buf[i:]


def _is_note_off(data):
    kind = data[0] & 0xF0
    return kind == 0x80 or (kind == 0x90 and len(data) > 2 and data[2] == 0)


class Bridge:
    """One JACK client with one MIDI port, run by the process callback."""

    QUEUE_SIZE = 8192

    def __init__(self, direction, client_name, port_name, out_fd):
        import jack
        self.jack = jack
        jack.set_error_function(lambda _msg: None)
        jack.set_info_function(lambda _msg: None)
        self.direction = direction
        self.out_fd = out_fd
        self._jlib, self._jffi = jack._lib, jack._ffi
        self.client = jack.Client(client_name, no_start_server=True)
        ports = self.client.midi_inports if direction == "in" else self.client.midi_outports
        self.port = ports.register(port_name)
        self._pptr, self._cptr = self.port._ptr, self.client._ptr
        self.spf = 1.0 / self.client.samplerate
        self._event = self._jffi.new("jack_midi_event_t *")
        self.queue = collections.deque()   # (frame, message, seq), in frame order
        self.now = collections.deque()     # messages to play as soon as possible, and
                                           # cancels (the last timed seq they drop)
        self._seq = 0
        self.stats = {"late_cycles": 0, "late_writes": 0, "max_late": 0.0, "written": 0,
                      "heard": 0, "errors": 0, "callback_errors": 0, "overflows": 0,
                      "lost": 0, "pending": 0, "cycles": 0}
        self.late_cycles = 0
        self.gone = False                  # the server shut the client down
        self.client.set_shutdown_callback(self._shut_down)
        self.client.set_process_callback(self._process)

    def start(self):
        self.client.activate()
        return {"client": self.client.name, "port": self.port.name,
                "rate": self.client.samplerate, "period": self.client.blocksize}

    def _shut_down(self, status, reason):
        self.gone = True
        self._emit(record(b"X"))

    def _emit(self, data):
        try:
            os.write(self.out_fd, data)
        except BlockingIOError:
            self.stats["lost"] += 1        # the daemon is not reading: dropped
        except OSError:
            pass

    # -- the process callback ---------------------------------------------------------

    def _process(self, nframes):
        try:
            if self.direction == "in":
                self._hear(nframes)
            else:
                self._play(nframes)
        except Exception:            # noqa: BLE001 - never take the client down
            self.stats["callback_errors"] += 1
        if self._jlib.jack_frames_since_cycle_start(self._cptr) >= nframes:
            self.late_cycles += 1

    def _hear(self, nframes):
        jlib = self._jlib
        buf = jlib.jack_port_get_buffer(self._pptr, nframes)
        n = jlib.jack_midi_get_event_count(buf)
        if not n:
            return
        start = self._jlib.jack_last_frame_time(self._cptr)
        ev = self._event
        chunks = []
        buffer = self._jffi.buffer
        pack = HEAD.pack
        for i in range(n):
            if jlib.jack_midi_event_get(ev, buf, i):
                break
            data = buffer(ev.buffer, ev.size)[:]
            chunks.append(pack(b"E", (start + ev.time) & MASK, len(data)))
            chunks.append(data)
        self.stats["heard"] += n
        self._emit(b"".join(chunks))

    def _play(self, nframes):
        jlib = self._jlib
        buf = jlib.jack_port_get_buffer(self._pptr, nframes)
        jlib.jack_midi_clear_buffer(buf)
        q, now = self.queue, self.now
        if not q and not now:
            return
        write = jlib.jack_midi_event_write
        stats = self.stats
        while now:                        # in the order sent, before what waits
            item = now.popleft()
            if item.__class__ is int:     # a cancel of the timed messages up to this one
                while q and q[0][2] <= item:
                    data = q.popleft()[1]
                    if _is_note_off(data):                  # a silence keeps them
                        if write(buf, 0, data, len(data)):
                            stats["errors"] += 1
                        else:
                            stats["written"] += 1
            elif write(buf, 0, item, len(item)):
                stats["errors"] += 1
            else:
                stats["written"] += 1
        if not q:
            return
        start = jlib.jack_last_frame_time(self._cptr)
        last = 0
        while q:
            at, data, _seq = q[0]
            off = ((int(at) - start + HALF) & MASK) - HALF
            if off >= nframes:
                break                                   # due in a later cycle
            if off < last:
                if off < 0:
                    stats["late_writes"] += 1
                    late = -off * self.spf
                    if late > stats["max_late"]:
                        stats["max_late"] = late
                off = last
            q.popleft()
            if write(buf, off, data, len(data)):
                stats["errors"] += 1                    # the cycle's buffer is full
            else:
                stats["written"] += 1
            last = off

    # -- the daemon's side of the pipe -------------------------------------------------

    def serve(self, in_fd):
        """Read the daemon's records until it closes the pipe."""
        rest = b""
        while True:
            try:
                chunk = os.read(in_fd, 65536)
            except InterruptedError:
                continue
            if not chunk:
                return
            records, rest = parse(rest + chunk)
            for kind, t, payload in records:
                if kind == b"M":
                    if len(self.queue) + len(self.now) >= self.QUEUE_SIZE:
                        self.stats["overflows"] += 1
                    elif t != t:                        # nan: now, before what waits
                        self.now.append(payload)
                    else:
                        self._seq += 1
                        self.queue.append((t, payload, self._seq))
                elif kind == b"C":
                    self.now.append(self._seq)
                elif kind == b"Q":
                    self.stats["late_cycles"] = self.late_cycles
                    self.stats["pending"] = len(self.queue) + len(self.now)
                    self._emit(record(b"S", 0.0, json.dumps(self.stats).encode()))

    def close(self):
        """Play what is queued (the last note-offs), then close the client. Not if the
        server has gone: libjack then hangs in jack_client_close."""
        if self.gone:
            return
        deadline = time.monotonic() + 0.5
        while (self.queue or self.now) and time.monotonic() < deadline and not self.gone:
            time.sleep(0.002)
        time.sleep(2.0 * self.client.blocksize / self.client.samplerate)
        if self.gone:
            return
        try:
            self.client.deactivate()
            self.client.close()
        except self.jack.JackError:
            pass


def main(argv=None):
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)     # the daemon says when: EOF on stdin
    spec = json.loads((argv or sys.argv)[1])
    out_fd = sys.stdout.fileno()
    try:
        bridge = Bridge(spec["direction"], spec["client"], spec["port"], out_fd)
        ready = bridge.start()
    except Exception as e:                     # noqa: BLE001 - reported, then exit
        os.write(out_fd, record(b"F", 0.0, str(e).encode()[:4000]))
        return 1
    os.set_blocking(out_fd, False)             # a stalled daemon must not block JACK
    # The thread that reads the daemon's pipe shares the interpreter lock with the
    # process callback: it must not be preempted while it holds it (the callback,
    # realtime under a realtime server, would wait for it).
    if spec.get("priority"):
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(spec["priority"]))
        except (OSError, AttributeError, ValueError):
            pass
    sys.setswitchinterval(0.0002)
    gc.collect()
    gc.freeze()
    gc.disable()                               # no pauses in the callback's way
    os.write(out_fd, record(b"R", 0.0, json.dumps(ready).encode()))
    try:
        bridge.serve(sys.stdin.fileno())
    finally:
        # closing must not hang the process (a server that went away without telling):
        # at most CLOSE_TIMEOUT, then out, without the interpreter's finalisation (which
        # would close the client again)
        closer = threading.Thread(target=bridge.close, daemon=True)
        closer.start()
        closer.join(CLOSE_TIMEOUT)
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
