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
both the phase (by alpha) and the period (by beta). One tick far off the prediction
is ignored as a hiccup; several in a row (a tempo jump) resynchronise to the raw tick.
A tick that arrives a whole number of periods late means ticks were lost in transit
(JACK drops MIDI in an overloaded cycle): they are counted in, so the beat does not
slip. After a longer silence (we were stopped by SIGSTOP, or the machine or the
transport stalled) the first ticks to arrive may be old ones, held up and delivered
in a burst, which say nothing about where the master is now: the beat runs on from the
last good tick until ticks come at the period again, and then the time since that
tick says how many went by.
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
    RESYNC = 0.4                        # |error| > this share of a period: an outlier
    OUTLIERS = 3                        # this many outliers in a row: jump to the tick
    MAX_LOST = 32 * PPQN                # at most this many ticks counted in at once
    LOST_GAP = 3                        # ... and not again within this many ticks
    STALL = 1.5                         # no tick for this many periods: a stall
    TRUST = 8                           # ticks in tempo before lateness means lost ticks
    BURST = 0.25                        # ticks closer than this share of a period: a burst

    def __init__(self, fallback_bpm=120.0):
        # (tick index n, estimated time of tick n, tick period, playing)
        self._state = (-1, None, 60.0 / fallback_bpm / PPQN, False)
        self._last_raw = None      # arrival time of the latest tick
        self._synced = 0           # ticks since the last (re)start or resync
        self._outliers = 0         # ticks in a row far off the prediction
        self._since_lost = 1 << 30  # ticks since lost ticks were last repaired
        self._repaired = 0
        self._raw = []             # the latest raw tick intervals
        self._stall = None         # (last good n, its arrival, ticks since, intervals since)
        self._anchor = None        # (n, arrival) of the tick the current tempo run began at
        self.lost_ticks = 0        # ticks that never arrived, counted in anyway
        self.generation = 0
        self.started = False       # a start/continue (or a plain tick stream) was seen

    # -- input (dispatcher thread) --------------------------------------------------

    def on_tick(self, t):
        n, tn, p, playing = self._state
        last = self._last_raw
        self._last_raw = t
        raw = t - last if last is not None else None
        if raw is not None and 0 < raw < 0.5:
            self._raw.append(raw)
            del self._raw[:-self.OUTLIERS]
        if not playing:
            # Ticks without a start: many masters send clock all the time and only
            # start/stop the transport. Track the tempo, but do not play.
            if raw is not None and 0 < raw < 0.5:
                p = self._smooth_period(p, raw)
            self._state = (n, t, p, False)
            return
        n += 1
        if tn is None or self._synced == 0:
            if raw is not None and 0 < raw < 0.5:
                p = self._smooth_period(p, raw)
            self._state = (n, t, p, True)
            self._synced = 1
            self._anchor = (n, t)
            return
        # Until a few ticks have come in tempo, the period is a guess (the fallback
        # tempo at start, say 120 bpm for a master at 60): a tick "two periods" late then
        # means a slower master, not a lost tick, so neither repair is tried.
        trusted = self._synced >= self.TRUST
        if trusted and self._stall is None and raw is not None and raw > self.STALL * p:
            self._stall = (n - 1, last, 0, [])
        if self._stall is not None:
            self._through_stall(t, raw, p)
            return
        pred = tn + p
        err = t - pred
        limit = self.RESYNC * p
        self._since_lost += 1
        if self._since_lost == 1 and self._repaired and abs(err + self._repaired * p) <= limit:
            # The tick after a "lost tick" came a period early: the earlier one was
            # only late (a busy sender catching up), not lost. Take the repair back.
            k, self._repaired = self._repaired, 0
            n -= k
            pred -= k * p
            err += k * p
            self.lost_ticks -= k
        elif err > limit and self._since_lost > self.LOST_GAP and trusted:
            k = round(err / p)
            if 1 <= k <= self.MAX_LOST and abs(err - k * p) <= limit:
                # A whole number of periods late, out of the blue: ticks were lost on
                # the way (an overloaded JACK cycle drops MIDI), or we were not running
                # (SIGSTOP, a stalled machine). A master keeps ticking until it sends
                # a stop, so count them in, or the beat would slip for good.
                n += k
                pred += k * p
                err -= k * p
                self.lost_ticks += k
                self._since_lost = 0
                self._repaired = k
        if abs(err) > limit:
            self._outliers += 1
            if self._outliers < self.OUTLIERS:
                # One tick far off the prediction is a hiccup (a busy sender, a
                # scheduling delay): keep the predicted grid and ignore it.
                self._state = (n, pred, p, True)
                return
            # Several in a row: the tempo really jumped. Start again from this tick,
            # at the median of the latest intervals; a "lost tick" repaired just
            # before was the jump's first tick.
            if self._since_lost <= self.OUTLIERS + 1 and self._repaired:
                n -= self._repaired
                self.lost_ticks -= self._repaired
            self._repaired = 0
            if self._raw:
                p = sorted(self._raw)[len(self._raw) // 2]
            self._state = (n, t, p, True)
            self._synced = 1
            self._anchor = (n, t)
            self._outliers = 0
            return
        self._outliers = 0
        if self._synced == 1 and raw is not None and 0 < raw < 0.5:
            # Second tick after a (re)start: a raw period beats a stale estimate.
            p = 0.5 * p + 0.5 * raw
        self._synced += 1
        self._state = (n, pred + self.ALPHA * err, p + self.BETA * err, True)

    def _through_stall(self, t, raw, p):
        """One tick after a stall. The state (the beat) is left to run on from the last
        good tick until this tick comes a period after the one before, or three ticks
        agree on a new period (the master changed tempo meanwhile)."""
        n_good, t_good, count, intervals = self._stall      # t_good: its arrival
        count += 1
        limit = self.RESYNC * p
        if raw is not None and abs(raw - p) <= limit:
            # At the period again: the master is where the time since the last good
            # tick says (the ticks lost and the ticks held up are all in that time).
            k = round((t - t_good) / self._long_period(n_good, t_good, p))
            missed = k - count
            if 0 <= missed <= self.MAX_LOST:
                self.lost_ticks += missed
            else:
                k = count
            self._resume(n_good + k, t, p)
            return
        if raw is not None and raw >= self.BURST * p:
            intervals = (intervals + [raw])[-self.OUTLIERS:]
            mid = sorted(intervals)[len(intervals) // 2]
            if len(intervals) == self.OUTLIERS and \
                    max(intervals) - min(intervals) <= self.RESYNC * mid:
                self._resume(n_good + count, t, mid)      # a new tempo: counted
                self._anchor = (n_good + count, t)
                return
        self._stall = (n_good, t_good, count, intervals)

    def _long_period(self, n, t, p):
        """The period over all the ticks since the last (re)start or resync (arrival
        times), if they span a beat and agree with `p` to 0.5 %. Counting the ticks of
        a long stall by time needs better than the filter's estimate: 160 ticks with
        the period 0.3 % off come out one tick wrong."""
        if self._anchor is None:
            return p
        n0, t0 = self._anchor
        if n - n0 < PPQN:
            return p
        long = (t - t0) / (n - n0)
        return long if abs(long - p) <= 0.005 * p else p     # else the tempo drifted

    def _resume(self, n, t, p):
        self._state = (n, t, p, True)
        self._stall = None
        self._outliers = 0
        self._repaired = 0
        self._since_lost = 1 << 30

    @staticmethod
    def _smooth_period(p, raw):
        return p + 0.1 * (raw - p)

    def on_start(self, t):
        """0xFA: play from the top; the next tick is beat 0."""
        _, _, p, _ = self._state
        self._state = (-1, None, p, True)
        self._synced = 0
        self._stall = None
        self.started = True
        self.generation += 1

    def on_continue(self, t):
        """0xFB: play on from the current position (e.g. after a song position)."""
        n, tn, p, _ = self._state
        self._state = (n, tn, p, True)
        self._synced = 0
        self._stall = None
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
        self._stall = None
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
