"""Where the beat is: an internal tempo, or external MIDI clock (24 ticks per quarter).

Both clocks answer the same two questions, in `time.monotonic()` seconds and in beats
(quarter notes, float, beat 0 = start):

- `time_of(beat)`: when will (or did) this beat sound?
- `beat_at(t)`: which beat is it at time t?

State lives in one immutable tuple that is swapped whole, so the improviser thread
always reads a consistent (anchor time, anchor beat, seconds per beat) while the
dispatcher thread updates it. `generation` changes whenever the beat jumps (start,
stop, song position): planned notes must then be thrown away.

External clock: tick arrival times jitter (a JACK period is 1.3 ms, USB MIDI ~1 ms), so
the tick period and phase go through an alpha-beta filter, a second-order
phase-locked loop: every tick predicts the next, and the prediction error corrects
both the phase (by alpha) and the period (by beta). A large error (a tempo jump, a
gap) resynchronises to the raw tick.
"""

import time

PPQN = 24


class InternalClock:
    """A steady tempo; `set_bpm` changes it without moving the current beat."""

    source = "internal"

    def __init__(self, bpm, now=None):
        now = time.monotonic() if now is None else now
        self._state = (now, 0.0, 60.0 / bpm)     # anchor time, anchor beat, sec/beat
        self.generation = 0

    def set_bpm(self, bpm, now=None):
        """New tempo from `now` on; the beat at `now` stays where it is."""
        now = time.monotonic() if now is None else now
        beat = self.beat_at(now)
        self._state = (now, beat, 60.0 / bpm)

    @property
    def bpm(self):
        return 60.0 / self._state[2]

    def seconds_per_beat(self):
        return self._state[2]

    def running(self, now=None):
        return True

    def beat_at(self, t):
        t0, b0, spb = self._state
        return b0 + (t - t0) / spb

    def time_of(self, beat):
        t0, b0, spb = self._state
        return t0 + (beat - b0) * spb

    def describe(self):
        return f"{self.bpm:.1f} bpm (internal)"


class MidiClock:
    """Follows 0xF8 ticks, 0xFA start, 0xFB continue, 0xFC stop and 0xF2 song position.

    Call the `on_*` methods from one thread (the dispatcher) with the message's
    arrival time; read from any thread. `fallback_bpm` is the tempo assumed until two
    ticks have arrived.
    """

    source = "clock"
    ALPHA = 0.15                        # phase correction per tick
    BETA = ALPHA * ALPHA / (2 - ALPHA)  # period correction: critically damped
    RESYNC = 0.4                        # |error| > this share of a period: jump to the tick

    def __init__(self, fallback_bpm=120.0):
        # (tick index n, estimated time of tick n, tick period, playing)
        self._state = (-1, None, 60.0 / fallback_bpm / PPQN, False)
        self._last_raw = None      # arrival time of the latest tick
        self._synced = 0           # ticks since the last (re)start or resync
        self.generation = 0
        self.started = False       # a start/continue (or a plain tick stream) was seen

    # -- input (dispatcher thread) --------------------------------------------------

    def on_tick(self, t):
        n, tn, p, playing = self._state
        last = self._last_raw
        self._last_raw = t
        if not playing:
            # Ticks without a start: many masters send clock all the time and only
            # start/stop the transport. Track the tempo, but do not play.
            if last is not None and 0 < t - last < 0.5:
                p = self._smooth_period(p, t - last)
            self._state = (n, t, p, False)
            return
        n += 1
        if tn is None or self._synced == 0:
            if last is not None and 0 < t - last < 0.5:
                p = self._smooth_period(p, t - last)
            self._state = (n, t, p, True)
            self._synced = 1
            return
        pred = tn + p
        err = t - pred
        if abs(err) > self.RESYNC * p:
            raw = t - last if last is not None else p
            if 0 < raw < 0.5:
                p = raw
            self._state = (n, t, p, True)
            self._synced = 1
            return
        if self._synced == 1 and last is not None and 0 < t - last < 0.5:
            # Second tick after a (re)start: a raw period beats a stale estimate.
            p = 0.5 * p + 0.5 * (t - last)
        self._synced += 1
        self._state = (n, pred + self.ALPHA * err, p + self.BETA * err, True)

    @staticmethod
    def _smooth_period(p, raw):
        return p + 0.1 * (raw - p)

    def on_start(self, t):
        """0xFA: play from the top; the next tick is beat 0."""
        _, _, p, _ = self._state
        self._state = (-1, None, p, True)
        self._synced = 0
        self.started = True
        self.generation += 1

    def on_continue(self, t):
        """0xFB: play on from the current position (e.g. after a song position)."""
        n, tn, p, _ = self._state
        self._state = (n, tn, p, True)
        self._synced = 0
        self.started = True
        self.generation += 1

    def on_stop(self, t):
        """0xFC: stop; the position is kept for a continue."""
        n, tn, p, _ = self._state
        self._state = (n, tn, p, False)
        self.generation += 1

    def on_song_position(self, sixteenths, t):
        """0xF2: the next tick (after a continue) is this many sixteenths in."""
        _, tn, p, playing = self._state
        self._state = (sixteenths * (PPQN // 4) - 1, tn, p, playing)
        self._synced = 0
        self.generation += 1

    # -- queries (any thread) --------------------------------------------------------

    def timeout(self, p):
        """No tick for this long means the master has gone (unplugged, crashed)."""
        return max(0.3, 6 * p)

    def running(self, now=None):
        n, tn, p, playing = self._state
        if not playing or tn is None or n < 0 or self._synced < 2:
            return False
        now = time.monotonic() if now is None else now
        last = self._last_raw
        return last is not None and now - last < self.timeout(p)

    @property
    def bpm(self):
        return 60.0 / (self._state[2] * PPQN)

    def seconds_per_beat(self):
        return self._state[2] * PPQN

    def beat_at(self, t):
        n, tn, p, _ = self._state
        if tn is None:
            return max(n, 0) / PPQN
        return (n + (t - tn) / p) / PPQN

    def time_of(self, beat):
        n, tn, p, _ = self._state
        if tn is None:
            tn = time.monotonic()
        return tn + (beat * PPQN - n) * p

    def describe(self):
        state = "playing" if self.running() else "stopped"
        return f"{self.bpm:.1f} bpm (MIDI clock, {state})"


def make_clock(tempo_cfg, now=None):
    if tempo_cfg["source"] == "clock":
        return MidiClock(tempo_cfg["bpm"])
    return InternalClock(tempo_cfg["bpm"], now)
