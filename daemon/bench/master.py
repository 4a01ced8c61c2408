"""An external MIDI clock master and a chord chart played on its ticks: what a DAW or a
sequencer sends a daemon on `tempo.source: clock`. Shared by the live tests and the
bench's standards section. The master remembers when it sent each tick, so a
performance can be put on the master's own beat grid (TickTimeline).
"""

import bisect
import threading
import time

from jazzd.grammar.pitch import pcs_of
from jazzd.grammar.swing import swung_beats, unswung_ticks


def voicing(chord):
    """Root in the bass, the chord tones above it: what a left hand would hold."""
    return [36 + chord.root] + sorted(48 + pc for pc in pcs_of(chord.tones))


class ChartPlayer:
    """Plays the chart's chords on the master's ticks (2 MIDI ticks per grammar tick)."""

    def __init__(self, kb, chart):
        self.kb = kb
        self.loop = len(chart.bars) * chart.bar_ticks * 2
        self.changes = {}
        for i, bar in enumerate(chart.bars):
            for tick, chord in bar:
                self.changes[(i * chart.bar_ticks + tick) * 2] = voicing(chord)
        self.held = set()
        self.count = 0

    def on_tick(self, position):
        notes = self.changes.get(position % self.loop)
        if notes is None:
            return
        new = set(notes)
        for n in sorted(self.held - new):
            self.kb.send(0x80, n, 0)
        for n in sorted(new - self.held):
            self.kb.send(0x90, n, 80)
        self.held = new
        self.count += 1


class ClockMaster(threading.Thread):
    """Sends 0xF8 at `bpm` (settable while running) and records (position, send time).

    The position is the master's own tick count in 24 ppqn from the song start, so song
    position pointers move it. `start()` sends 0xFA first; `finish()` sends 0xFC.
    With `send_clock=False` it keeps the same time and plays `on_tick` but sends no
    clock at all: a chart played to a daemon on its internal clock, for comparison.
    """

    def __init__(self, kb, bpm=120.0, send_start=True, on_tick=None, send_clock=True):
        super().__init__(name="clock-master", daemon=True)
        self.kb = kb
        self.bpm = bpm
        self.send_clock = send_clock
        self.send_start = send_start and send_clock
        self.on_tick = on_tick       # called with the position after each tick is sent
        self.ticks = []              # (position in ticks, monotonic send time)
        self.skipped = []            # (time, ticks) not sent while the test stalled
        self.position = 0
        self._halt = threading.Event()
        self._hold = threading.Event()   # set: no ticks (the cable is pulled)
        self._lock = threading.Lock()
        self._last_at = None         # the time of the last tick handed over
        self.stopped_at = None

    def run(self):
        # Sample-accurate: each tick is handed to the keyboard's JACK port a period
        # ahead with the time it is due, and played at that frame.
        lead = getattr(self.kb, "lead", 0.0)
        if self.send_start:
            self.kb.send(0xFA)
        t = time.monotonic() + 0.01 + lead
        while not self._halt.is_set():
            while True:
                left = t - lead - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(0.002, left))
            if self._hold.is_set():
                t = time.monotonic() + lead + 0.001
                continue
            with self._lock:
                if self.send_clock:
                    self.kb.send(0xF8, at=t)
                self._last_at = t
                self.ticks.append((self.position, t))
                if self.on_tick is not None:
                    self.kb.at = t               # the chart's chords on this tick
                    try:
                        self.on_tick(self.position)
                    finally:
                        self.kb.at = None
                self.position += 1
            period = 60.0 / self.bpm / 24
            t += period
            late = time.monotonic() - 0.05 - t
            if late > 0:
                # The test process stalled. Do not burst, but keep time as a real
                # master does: the ticks not sent are lost ones (the daemon counts them
                # in by time). Moving the grid instead, as this did, made a daemon that
                # counts right come out whole ticks ahead of these positions for good.
                skip = int(late // period) + 1
                with self._lock:
                    self.position += skip
                t += skip * period
                self.skipped.append((time.monotonic(), skip))

    def _between(self):
        """When a message sent now plays: right after the last tick handed over (ticks
        go out a lead ahead; sent at once, the message would arrive before ticks the
        positions counted before it), or now if none is pending."""
        now = time.monotonic()
        last = self._last_at
        return None if last is None or last < now else last + 0.0002

    def send_locked(self, *msg, position=None):
        """Send a message between two ticks; `position` moves the song position."""
        with self._lock:
            self.kb.send(*msg, at=self._between())
            if position is not None:
                self.position = position

    def hold(self, on=True):
        (self._hold.set if on else self._hold.clear)()

    def finish(self, send_stop=True):
        self._halt.set()
        self.join(2)
        if send_stop and self.send_clock:
            at = self._between()
            self.kb.send(0xFC, at=at)
            self.stopped_at = at if at is not None else time.monotonic()

    def timeline(self):
        return TickTimeline(self.ticks)


class TickTimeline:
    """Which master beat a moment is: interpolation between the recorded ticks."""

    def __init__(self, ticks):
        self.pos = [p for p, _ in ticks]
        self.times = [t for _, t in ticks]

    def beat_of(self, t):
        """The master's beat (float, quarter notes) at time t, or None outside the ticks."""
        times = self.times
        i = bisect.bisect_right(times, t) - 1
        if i < 0 or i + 1 >= len(times):
            return None
        if self.pos[i + 1] != self.pos[i] + 1:        # a song position jump: no bridge
            return None
        return (self.pos[i] + (t - times[i]) / (times[i + 1] - times[i])) / 24

    def grid_error(self, t, division=2):
        """Seconds from t to the nearest 1/division-beat line of the master's grid."""
        b = self.beat_of(t)
        if b is None:
            return None
        i = bisect.bisect_right(self.times, t) - 1
        spb = (self.times[i + 1] - self.times[i]) * 24
        x = b * division
        return (x - round(x)) / division * spb

    def swung_grid_error(self, t, swing):
        """Seconds from t to the nearest line of the swung 1/12-beat grid (the grid
        every onset of the daemon sits on, see jazzd.grammar.swing)."""
        b = self.beat_of(t)
        if b is None:
            return None
        i = bisect.bisect_right(self.times, t) - 1
        spb = (self.times[i + 1] - self.times[i]) * 24
        tick = round(unswung_ticks(b, swing))
        return (b - swung_beats(tick, swing)) * spb

    def graced_errors(self, times, swing, grace):
        """[(t, signed error in s, graced)] of each time on the ticks' span, against
        the swung grid. A note on a beat may wait `grace` (change_grace_ms) for its
        chord, by design (a DAW sends the chord on the beat): one that is late by more
        than half of it is measured from grid + grace, and marked graced."""
        out = []
        for t in times:
            e = self.swung_grid_error(t, swing)
            if e is None:
                continue
            b = self.beat_of(t)
            graced = abs(b - round(b)) < 0.1 and e > grace / 2
            out.append((t, e - grace if graced else e, graced))
        return out
