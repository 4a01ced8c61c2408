"""Send note-ons and note-offs at absolute deadlines, and never leave a note hanging.

Deadlines are absolute `time.monotonic()` times, never chained sleeps, so an early or
late wake-up never accumulates into drift. Two ways to meet them:

- a timed output (JACK: `lead` > 0) takes each message with its due time and plays it
  at its frame: the thread hands it over `lead` (a period and a margin) early, and
  sleeps in between; nothing spins;
- an untimed output (ALSA) plays what it gets at once: the thread sleeps (on a
  condition, so an earlier event wakes it) until `spin` seconds before the deadline,
  then spins on the clock for the last stretch (an OS wake-up is good to ~0.1 ms, a
  spin to a few µs).

The scheduler is the one place that knows which notes are sounding, and where: each
is kept with the port and channel its note-on went to, so a note-off reaches it even
after a reload switched the port or the channel. `silence()` (stop, signal, port loss,
a crash anywhere) sends a note-off for each, then CC123 (all notes off) on the output
channel. At start-up and on a new port, `panic()` also ends whatever a killed
predecessor left sounding: CC120, CC123 and a note-off for every pitch, for the
receivers that ignore the controllers. The output is monophonic: a note-on first ends
any note still sounding.

Every note-off is sent again OFF_ECHO later, unless the pitch sounds again by then: an
asynchronous JACK server drops what a client sends in a cycle it misses, and a lost
note-off is a note hanging on the synth. A second note-off, some fifteen cycles later,
is harmless to a receiver that got the first. A note-on that comes before that repeat
is preceded by it as well, in the same cycle: so a lost note-off never sounds under the
next note (an overlap), whichever cycles the server drops.

Each send's lateness (send or hand-over time − when it was due) goes into a
preallocated ring buffer, so
`jazzd bench` can report p50/p99/max without per-note allocation or logging.
"""

import heapq
import logging
import os
import threading
import time

import numpy as np

log = logging.getLogger("jazzd.scheduler")

ON, OFF, ECHO = 0, 1, 2
OFF_ECHO = 0.02           # s: a note-off goes out again this much later (module docstring)
QUIET_AFTER = 0.0003      # s: how long after a deadline the other threads stay quiet
CC_ALL_SOUND_OFF = 120
CC_ALL_NOTES_OFF = 123


def _cancel(send):
    """Drop what a timed output holds but has not played (its `cancel`), if it has one."""
    cancel = getattr(getattr(send, "__self__", None), "cancel", None)
    if cancel is not None:
        cancel()


def try_realtime(priority):
    """Put the calling thread under SCHED_FIFO at `priority`; return True if it worked.

    A timing thread at normal priority can be kept off the CPU for tens of ms by any
    busy process (measured here: send lateness p99 54 ms with both cores loaded; 0.14
    ms under SCHED_FIFO). Where it is not allowed (no CAP_SYS_NICE, no RLIMIT_RTPRIO,
    e.g. systemd's LimitRTPRIO=) the thread just stays at normal priority.
    """
    if not priority:
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return True
    except (OSError, AttributeError, ValueError):
        return False


class Scheduler(threading.Thread):
    """The output thread. `send(list_of_ints) -> bool` is the output port's send.

    `notifier` (optional) gets `.watchdog()` on every loop iteration. While
    `freeze_file` exists the loop blocks: a debug hook for the watchdog test.
    """

    def __init__(self, send, channel=1, notifier=None, freeze_file=None, spin=0.0015,
                 ring_size=4096, idle_wait=0.1, realtime_priority=0, lead=0.0):
        super().__init__(name="jazzd-scheduler", daemon=True)
        self.lead = lead                  # s: hand over this early to a timed output
        self.realtime_priority = realtime_priority
        self.realtime = False
        self.program = None               # the program change sent after a panic
        self._send = send
        self.channel = channel - 1        # 0-based on the wire
        self.notifier = notifier
        self.freeze_file = freeze_file
        self.spin = spin
        self.idle_wait = idle_wait
        self._cond = threading.Condition(threading.Lock())
        self._heap = []                   # (deadline, seq, kind, pitch, velocity, note id)
                                          # an ECHO has its (send, channel, pitch) for id
        self._seq = 0
        self._sounding = {}               # (send, channel, pitch) -> note id
        self._halt = False
        self.epoch = 0                    # bumped by silence(): stale notes are dropped
        self.quiet_until = 0.0            # other threads: do not run Python before this
        self.notes_played = 0
        self.late_ring = np.zeros(ring_size, dtype=np.float64)
        self._ring_i = 0
        self.on_error = None              # called with the exception if the loop dies
        self._last_silence = None         # (note keys, channels) of the last silence()
        self._unrepeated = {}             # keys whose note-off has not gone out twice yet

    # -- producer side (improviser thread) -------------------------------------------

    def note(self, on_time, off_time, pitch, velocity, epoch=None):
        """Schedule one note; dropped if `epoch` is stale (a silence() came in between)."""
        with self._cond:
            if self._halt or (epoch is not None and epoch != self.epoch):
                return False
            self._seq += 1
            nid = self._seq
            heapq.heappush(self._heap, (on_time, nid, ON, pitch, velocity, nid))
            self._seq += 1
            heapq.heappush(self._heap, (off_time, self._seq, OFF, pitch, 0, nid))
            self._cond.notify()
        return True

    def keep_quiet(self, _mono=time.monotonic, _sleep=time.sleep):
        """Called by the other threads before they work: wait while a send is near."""
        wait = self.quiet_until - _mono()
        if wait > 0:
            _sleep(wait)

    def pending(self):
        with self._cond:
            return len(self._heap)

    def queued(self):
        """The notes scheduled and not sent yet: [(time, "on" or "off", pitch,
        velocity)] in time order (what a test or a status report reads)."""
        with self._cond:
            events = sorted(e for e in self._heap if e[2] in (ON, OFF))
        return [(e[0], "on" if e[2] == ON else "off", e[3], e[4]) for e in events]

    def sounding(self):
        """The pitches sounding now."""
        with self._cond:
            return sorted(p for _, _, p in self._sounding)

    def set_output(self, send, channel):
        """A new port (its `send`) and/or 1-based channel; notes already sounding keep
        theirs, so their note-offs still reach them."""
        with self._cond:
            self._send = send
            self.channel = channel - 1

    # -- silence ---------------------------------------------------------------------

    def silence(self):
        """Forget pending events, note-off every sounding note, then CC123.

        Safe from any thread; the scheduler lock is held across the sends so a note-on
        cannot slip out after its note-off.
        """
        with self._cond:
            self.epoch += 1
            echoes = [e for e in self._heap if e[2] == ECHO]
            self._heap[:] = echoes                # the repeats still go out (lost offs)
            heapq.heapify(self._heap)
            sounding, self._sounding = self._sounding, {}
            ended = sorted(sounding, key=lambda k: (k[1], k[2]))
            channels = {(self._send, self.channel)} | {(k[0], k[1]) for k in ended}
            self._last_silence = (ended + [e[5] for e in echoes if e[5] not in sounding],
                                  sorted(channels, key=lambda c: c[1]))
            for send in {self._send} | {k[0] for k in ended}:
                _cancel(send)                     # what a timed output still holds
            self._send_silence(ended, channels)
            at = time.monotonic() + OFF_ECHO
            for key in ended:
                self._echo(key, at)
            self._cond.notify()
        return len(sounding)

    @staticmethod
    def _send_silence(keys, channels):
        """Note-offs and CC123 now (a timed output: in its next cycle)."""
        for send, ch, pitch in keys:
            send([0x80 | ch, pitch, 0])
        for send, ch in channels:
            send([0xB0 | ch, CC_ALL_NOTES_OFF, 0])

    def repeat_silence(self):
        """The last silence's note-offs (and the echoes it dropped) and CC123s again: the
        OFF_ECHO of a stop (module docstring). Only once nothing can sound any more
        (after stop()): a note struck since would be cut."""
        with self._cond:
            if self._halt and self._last_silence is not None:
                self._send_silence(*self._last_silence)

    def panic(self):
        """End whatever sounds on the output channel, whoever started it (a SIGKILLed
        predecessor, a synth that missed a note-off): CC120, CC123, then a note-off for
        every pitch, since some receivers ignore the channel-mode controllers. Then the
        program change (`midi.program`), so a new synth or port plays our sound."""
        with self._cond:
            ch = self.channel
            self._send([0xB0 | ch, CC_ALL_SOUND_OFF, 0])
            self._send([0xB0 | ch, CC_ALL_NOTES_OFF, 0])
            for pitch in range(128):
                self._send([0x80 | ch, pitch, 0])
            self._send_program()

    def set_program(self, program):
        """`midi.program` (0-127, or None: send none): sent now and after every panic."""
        with self._cond:
            self.program = program
            self._send_program()

    def _send_program(self):
        if self.program is not None:
            self._send([0xC0 | self.channel, self.program])

    def stop(self, timeout=1.0):
        """Silence and end the thread."""
        self.silence()
        with self._cond:
            self._halt = True
            self._cond.notify()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def close(self):
        """Silence for good, without waiting for the thread: the last resort of a stop
        that hung (service.signals), while the improviser may still be planning. The
        thread is halted first, and sends nothing once halted, so no note can start
        after the note-offs."""
        with self._cond:
            self._halt = True
        self.silence()

    # -- statistics ------------------------------------------------------------------

    def lateness(self):
        """The recorded send latenesses in seconds (up to the ring size, oldest first)."""
        n = self._ring_i
        size = len(self.late_ring)
        if n <= size:
            return self.late_ring[:n].copy()
        i = n % size
        return np.concatenate((self.late_ring[i:], self.late_ring[:i]))

    def lateness_stats(self):
        """{"count", "p50_ms", "p99_ms", "max_ms"} over the ring buffer."""
        lat = self.lateness()
        if not len(lat):
            return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
        ms = lat * 1e3
        return {"count": int(self._ring_i), "p50_ms": float(np.percentile(ms, 50)),
                "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())}

    # -- the loop --------------------------------------------------------------------

    def run(self):
        self.realtime = try_realtime(self.realtime_priority)
        try:
            self._loop()
        except BaseException as e:     # noqa: BLE001 - silence first, then report
            try:
                self.silence()
            finally:
                if self.on_error is not None:
                    self.on_error(e)
                else:
                    raise

    def _freeze(self):
        while os.path.exists(self.freeze_file):
            time.sleep(0.05)

    def _loop(self):
        cond = self._cond
        heap = self._heap
        mono = time.monotonic
        notifier = self.notifier
        while True:
            if notifier is not None:
                notifier.watchdog()
            if self.freeze_file is not None and os.path.exists(self.freeze_file):
                self._freeze()
            with cond:
                if self._halt:
                    return
                if not heap:
                    cond.wait(self.idle_wait)
                    continue
                deadline = heap[0][0]
                if self.lead > 0:                 # a timed output: hand over, no spin
                    wait = deadline - self.lead - mono()
                    if wait > 0:
                        cond.wait(min(wait, self.idle_wait))
                    else:
                        self._send_due(mono)
                    continue
                wait = deadline - mono() - self.spin
                if wait > 0:
                    cond.wait(min(wait, self.idle_wait))
                    continue
            # Spin, without the lock, to the deadline. The other threads keep out of
            # the way meanwhile (quiet_until): the spin holds Python's GIL, and a
            # thread that takes it from us mid-spin makes the note late by whatever it
            # then does (measured: 0.3-2 ms).
            self.quiet_until = deadline + QUIET_AFTER
            while mono() < deadline:
                pass
            with cond:
                if self._halt:
                    return
                self._send_due(mono)

    def _find(self, nid, pitch):
        """The (send, channel, pitch) key under which note `nid` sounds, or None."""
        for key, n in self._sounding.items():
            if n == nid and key[2] == pitch:
                return key
        return None

    def _echo(self, key, at):
        """The note-off of `key` again at `at` (module docstring)."""
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, ECHO, key[2], 0, key))
        self._unrepeated[key] = True

    def _send_due(self, mono):
        heap = self._heap
        ch = self.channel
        ring = self.late_ring
        size = len(ring)
        lead = self.lead
        while heap and heap[0][0] - lead <= mono():
            deadline, _, kind, pitch, velocity, nid = heapq.heappop(heap)
            send = self._send
            if kind == ON:
                if self._unrepeated:                      # repeats due after this note-on
                    for key in self._unrepeated:          # go first (module docstring)
                        key[0]([0x80 | key[1], key[2], 0], deadline)
                    self._unrepeated.clear()
                for key in list(self._sounding):          # monophonic: end the last note
                    key[0]([0x80 | key[1], key[2], 0], deadline)
                    self._echo(key, deadline + OFF_ECHO)
                self._sounding.clear()
                now = mono()
                send([0x90 | ch, pitch, velocity], deadline)
                self._sounding[(send, ch, pitch)] = nid
                self.notes_played += 1
            elif kind == OFF:
                key = self._find(nid, pitch)
                if key is None:
                    continue                              # already ended by a later note
                now = mono()
                key[0]([0x80 | key[1], pitch, 0], deadline)
                del self._sounding[key]
                self._echo(key, deadline + OFF_ECHO)
            else:
                self._unrepeated.pop(nid, None)           # (sent even if a note-on sent
                if nid not in self._sounding:             # it first: that cycle may be
                    nid[0]([0x80 | nid[1], pitch, 0], deadline)   # lost), unless
                continue                                  # struck again; not a deadline
            ring[self._ring_i % size] = now - (deadline - lead)
            self._ring_i += 1
