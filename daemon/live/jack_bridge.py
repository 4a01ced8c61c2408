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

- to it (stdin): `M` a message to play at a time (`nan`: now), `C` cancel what is
  pending for later but note-offs, `Q` a report please;
- from it (stdout): `R` ready (JSON: client and port names, rate, period) or `F` failed
  (text), `E` a message heard with its time, `S` a report (JSON counters), `X` the
  server shut the client down.

It ends when the daemon closes its end of the pipe (or dies); it ignores the signals
a service manager sends the whole group, so the daemon's last note-offs still go out.

Time is the audio clock's: an event heard is stamped with its frame, a message played
is written at the frame it is due (`CycleTimes` maps frames to `time.monotonic()`
once per cycle, the same clock in every process).
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

HEAD = struct.Struct("<cdH")
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


class CycleTimes:
    """The map from frames to `time.monotonic()` seconds in the current cycle.

    libjack gives each cycle's first frame with its time on JACK's clock
    (`jack_get_cycle_times`, the server's smoothed frame clock). JACK's clock is not
    necessarily the monotonic clock (jack2 reads CLOCK_MONOTONIC_RAW: 0.25 s apart
    here, and their rates differ by NTP's slew): the offset is read beside every
    cycle, as the smallest (monotonic − JACK time) with the JACK time read first,
    creeping up at CREEP so a slew either way is followed.
    """

    CREEP = 1e-3          # s/s

    def __init__(self, client, ffi, lib, jlib, jffi):
        self._ffi, self._lib, self._jlib = ffi, lib, jlib
        self._jptr = client._ptr
        self._client = ffi.cast("void *", int(jffi.cast("uintptr_t", client._ptr)))
        self._cf = ffi.new("jack_nframes_t *")
        self._cu = ffi.new("jack_time_t *")
        self._nu = ffi.new("jack_time_t *")
        self._pu = ffi.new("float *")
        self.rate = float(client.samplerate)
        self.offset = None
        self._seen = 0.0

    def update(self, nframes, _mono=time.monotonic):
        """This cycle's (first frame, its monotonic time, seconds per frame)."""
        j = self._lib.jack_get_time()
        m = _mono()
        sample = m - j * 1e-6
        off = self.offset
        if off is None or sample < off:
            off = sample
        else:
            crept = off + self.CREEP * (m - self._seen)
            off = sample if sample < crept else crept
        self.offset, self._seen = off, m
        if self._lib.jack_get_cycle_times(self._client, self._cf, self._cu, self._nu,
                                          self._pu) == 0:
            cu = self._cu[0]
            return self._cf[0], cu * 1e-6 + off, (self._nu[0] - cu) * 1e-6 / nframes
        since = self._jlib.jack_frames_since_cycle_start(self._jptr)   # an old libjack
        return (self._jlib.jack_last_frame_time(self._jptr), m - since / self.rate,
                1.0 / self.rate)


def _is_note_off(data):
    kind = data[0] & 0xF0
    return kind == 0x80 or (kind == 0x90 and len(data) > 2 and data[2] == 0)


class Bridge:
    """One JACK client with one MIDI port, run by the process callback."""

    QUEUE_SIZE = 8192

    def __init__(self, direction, client_name, port_name, out_fd):
        import cffi
        import jack
        self.jack = jack
        jack.set_error_function(lambda _msg: None)
        jack.set_info_function(lambda _msg: None)
        self.direction = direction
        self.out_fd = out_fd
        ffi = cffi.FFI()
        ffi.cdef("""
        typedef uint32_t jack_nframes_t;
        typedef uint64_t jack_time_t;
        int jack_get_cycle_times(void *client, jack_nframes_t *current_frames,
                                 jack_time_t *current_usecs, jack_time_t *next_usecs,
                                 float *period_usecs);
        jack_time_t jack_get_time(void);
        """)
        lib = ffi.dlopen("libjack.so.0")
        self._jlib, self._jffi = jack._lib, jack._ffi
        self.client = jack.Client(client_name, no_start_server=True)
        ports = self.client.midi_inports if direction == "in" else self.client.midi_outports
        self.port = ports.register(port_name)
        self._pptr, self._cptr = self.port._ptr, self.client._ptr
        self.cycle = CycleTimes(self.client, ffi, lib, self._jlib, self._jffi)
        self._event = self._jffi.new("jack_midi_event_t *")
        self.queue = collections.deque()
        self._seq = 0
        self._cancel = self._cancelled = 0
        self.stats = {"late_cycles": 0, "late_writes": 0, "max_late": 0.0, "written": 0,
                      "heard": 0, "errors": 0, "callback_errors": 0, "overflows": 0,
                      "lost": 0, "pending": 0, "cycles": 0}
        self.late_cycles = 0
        self.client.set_shutdown_callback(self._shut_down)
        self.client.set_process_callback(self._process)

    def start(self):
        self.client.activate()
        return {"client": self.client.name, "port": self.port.name,
                "rate": self.client.samplerate, "period": self.client.blocksize}

    def _shut_down(self, status, reason):
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
        _frame, start, spf = self.cycle.update(nframes)
        ev = self._event
        chunks = []
        buffer = self._jffi.buffer
        pack = HEAD.pack
        for i in range(n):
            if jlib.jack_midi_event_get(ev, buf, i):
                break
            data = buffer(ev.buffer, ev.size)[:]
            chunks.append(pack(b"E", start + ev.time * spf, len(data)))
            chunks.append(data)
        self.stats["heard"] += n
        self._emit(b"".join(chunks))

    def _play(self, nframes):
        jlib = self._jlib
        buf = jlib.jack_port_get_buffer(self._pptr, nframes)
        jlib.jack_midi_clear_buffer(buf)
        q = self.queue
        cancel = self._cancel
        if not q:
            self._cancelled = cancel
            return
        _frame, start, spf = self.cycle.update(nframes)
        write = jlib.jack_midi_event_write
        stats = self.stats
        last = 0
        if cancel != self._cancelled:
            while q and q[0][2] <= cancel:
                at, data, _seq = q.popleft()
                if at != at or _is_note_off(data):      # now (nan), or a note-off
                    if write(buf, last, data, len(data)):
                        stats["errors"] += 1
                    else:
                        stats["written"] += 1
            self._cancelled = cancel
        while q:
            at, data, _seq = q[0]
            if at != at:                                # nan: as soon as possible
                off = last
            else:
                off = int((at - start) / spf + 0.5)
                if off >= nframes:
                    break                               # due in a later cycle
                if off < last:
                    if off < 0:
                        stats["late_writes"] += 1
                        late = -off * spf
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
                    if len(self.queue) >= self.QUEUE_SIZE:
                        self.stats["overflows"] += 1
                        continue
                    self._seq += 1
                    self.queue.append((t, payload, self._seq))
                elif kind == b"C":
                    self._cancel = self._seq
                elif kind == b"Q":
                    self.stats["late_cycles"] = self.late_cycles
                    self.stats["pending"] = len(self.queue)
                    self._emit(record(b"S", 0.0, json.dumps(self.stats).encode()))

    def close(self):
        # let what is queued for the next cycles go out first (the last note-offs)
        deadline = time.monotonic() + 0.5
        while self.queue and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(2.0 * self.client.blocksize / self.client.samplerate)
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
    gc.collect()
    gc.freeze()
    gc.disable()                               # no pauses in the callback's way
    os.write(out_fd, record(b"R", 0.0, json.dumps(ready).encode()))
    try:
        bridge.serve(sys.stdin.fileno())
    finally:
        bridge.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
