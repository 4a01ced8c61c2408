"""Following an external MIDI clock (24 ticks per quarter note): the `MidiClock` of
clock.py.

State lives in one immutable tuple that is swapped whole, so the improviser thread
always reads a consistent (anchor time, anchor beat, seconds per beat) while the
dispatcher thread updates it. `generation` changes whenever the beat jumps (start,
stop, song position): planned notes must then be thrown away.

External clock: tick arrival times jitter (a JACK period is 1.3 ms, USB MIDI ~1 ms), so
the tick period and phase go through an alpha-beta filter, a second-order
phase-locked loop: every tick predicts the next, and the prediction error corrects
both the phase (by alpha) and the period (by beta). Once four beats of ticks have come
in tempo, the period is their least-squares slope instead: on a loaded machine ticks
come late by up to most of a period, and the filter's period wandered 2.5 % off (the
soak), enough to miscount the next stall. One tick far off the prediction is ignored as
a hiccup; several in a row whose intervals agree on a period resynchronise to the raw
tick at that period (a tempo jump); while they do not agree (jitter: ticks held up,
late, never early) the grid is kept.

A master keeps ticking until it sends a stop, so every tick that does not reach us
must still be counted, or the beat slips for good; and every tick must be counted
once. Asynchronous JACK loses MIDI in a cycle a client misses, hands a reader the same
buffer twice, and holds ticks back to deliver them together; a busy receiver makes
ticks late. So:

- a gap of over 1.5 periods is a stall: the beat runs on from where the last good tick
  was due until three ticks in a row come a period apart; the time since then, at the
  earliest of the three (a tick may come late, never early), says how many went by.
  Old ticks delivered in a burst are in that count; six intervals that agree on
  another period are a new tempo, counted by arrivals (three jittered ones agreed by
  chance on a loaded machine);
- three hiccups a whole number of periods late, together, are ticks lost (no stall
  is read right after a late tick, or in the first ticks);
- a tick right behind the one before, well before the next is due, is that tick heard
  twice, and is dropped (not judged until two ticks have come in tempo since the grid
  was last set: after a stall the tick before may have been late);
- until 8 ticks have come in tempo after a start the period is a guess and no stall is
  read; then the arrivals since the start are counted again on the grid they now give.

"""

import math
import time
from collections import deque

PPQN = 24


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
    WHOLE = 0.25                        # ... unless they agree this well on a whole
                                        # number of periods off the grid: lost ticks
    MAX_LOST = 32 * PPQN                # at most this many ticks counted in at once
    STALL = 1.5                         # no tick for this many periods: a stall
    TRUST = 8                           # ticks in tempo before the period is trusted
    BURST = 0.25                        # ticks closer than this share of a period: a burst
    FIT = 4 * PPQN                      # the period is fitted over this many ticks

    def __init__(self, fallback_bpm=120.0):
        # (tick index n, estimated time of tick n, tick period, playing)
        self._state = (-1, None, 60.0 / fallback_bpm / PPQN, False)
        self._last_raw = None      # arrival time of the latest tick
        self._synced = 0           # ticks since the last (re)start or resync
        self._locked = False       # in tempo since the last start (a re-lock keeps it)
        self._steady = 0           # ticks in tempo since the grid was last set
        self._outliers = 0         # ticks in a row far off the prediction
        self._errs = []            # ... and how far off each was
        self._early = None         # arrival times since a start, until TRUST in tempo
        self._early_n0 = 0         # ... the index of the first
        self._idle = []            # the latest intervals of ticks while stopped
        self._raw = []             # the latest raw tick intervals
        self._stall = None         # (last good n, when it was due, ticks since,
                                   # [(interval, ticks ahead)] since, in a row)
        self._anchor = None        # (n, arrival) of the tick the current tempo run began at
        self._fit = deque(maxlen=self.FIT)  # (n, arrival) of the latest ticks in tempo
        self.lost_ticks = 0        # ticks that never arrived, counted in anyway (net)
        self.doubled_ticks = 0     # ticks heard twice, counted once
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
                self._idle = (self._idle + [raw])[-self.TRUST:]
            self._state = (n, t, p, False)
            return
        if self._heard_twice(t, tn, p, raw):
            self.doubled_ticks += 1
            return
        n += 1
        if self._early is not None:
            if not self._early:
                self._early_n0 = n
            self._early.append(t)
            if len(self._early) > 4 * PPQN:
                self._early = None          # never in tempo: nothing to recount
        if tn is None or self._synced == 0:
            self._first_tick(n, t, p, raw)
            return
        # Until a few ticks have come in tempo, the period is a guess (the fallback
        # tempo at start, say 120 bpm for a master at 60): a tick "two periods" late then
        # means a slower master, not a stall, and time cannot count ticks. A tick lost
        # meanwhile is found when the ticks come in tempo (_recount_from_start).
        trusted = self._synced >= self.TRUST or self._early is None
        if trusted and self._stall is None and raw is not None and raw > self.STALL * p:
            # Counted from where the last tick belonged on the grid, not from its
            # arrival: a late tick before a lost one made the stall a tick short.
            self._stall = (n - 1, tn, 0, [])
        if self._stall is not None:
            self._through_stall(t, raw, p)
            return
        pred = tn + p
        err = t - pred
        if abs(err) > self.RESYNC * p:
            counted = self._off_the_grid(n, t, pred, err, p)
            if counted is None:
                return
            n, pred, err = counted
        self._in_tempo(n, t, pred, err, p, raw)

    def _heard_twice(self, t, tn, p, raw):
        """Right behind the tick before, well before the next is due: no tick comes
        before it is sent, so this is that tick heard twice (asynchronous JACK can
        hand a reader the same buffer twice); counted, it put the beat a tick ahead for
        good. Judged only once two ticks have come in tempo since the grid was last
        set: right after a stall the grid is new and a real tick dropped puts it a
        tick behind."""
        return (self._steady >= 2 and self._stall is None and raw is not None and
                raw < self.BURST * p and t - tn < (1 - self.RESYNC) * p)

    def _first_tick(self, n, t, p, raw):
        """The first tick after a start or a resync: the grid starts here."""
        if raw is not None and 0 < raw < 0.5:
            p = self._smooth_period(p, raw)
        self._state = (n, t, p, True)
        self._synced = 1
        self._steady = 0
        self._anchor = (n, t)

    def _off_the_grid(self, n, t, pred, err, p):
        """A tick far off the prediction. A hiccup (one, or ticks whose intervals do
        not agree) keeps the grid; the same whole number of periods late, three times,
        is ticks lost, counted in: returns (n, pred, err) to go on with; a tempo jump
        (several that agree on a new period) starts the grid again. None: handled."""
        self._outliers += 1
        self._errs.append(err)
        if self._outliers < self.OUTLIERS:
            self._state = (n, pred, p, True)       # a hiccup: keep the predicted grid
            return None
        k = self._whole_periods_off(p, self.OUTLIERS)
        if not k and self._outliers == self.OUTLIERS and \
                self._whole_periods_off(p, self.OUTLIERS - 1):
            # The latest ones agree and the first does not (a late tick, then a lost
            # one): one more tick to tell lost ticks from a tempo jump.
            self._state = (n, pred, p, True)
            return None
        if k:
            # the master kept its tempo and k ticks never reached us
            self.lost_ticks += k
            return n + k, pred + k * p, err - k * p
        gaps = sorted(self._raw)
        mid = gaps[len(gaps) // 2] if gaps else p
        if len(gaps) < self.OUTLIERS or gaps[-1] - gaps[0] > self.WHOLE * mid:
            # Their intervals do not agree on a tempo: jitter, ticks held up on a
            # loaded machine (late, never early). Keep the grid until three in a row
            # agree (re-anchored at a late tick, the beat ran late).
            self._state = (n, pred, p, True)
            del self._errs[:-self.OUTLIERS]
            return None
        # Several in a row whose intervals agree: the tempo jumped. Start again from
        # this tick, at their median.
        self._fit.clear()
        self._anchor = (n, t)
        self._state = (n, t, mid, True)
        self._synced = 1
        self._steady = 0
        self._outliers = 0
        self._errs.clear()
        return None

    def _in_tempo(self, n, t, pred, err, p, raw):
        """A tick where the grid expects it: correct phase and period."""
        self._outliers = 0
        self._errs.clear()
        self._steady += 1
        if self._synced == 1 and raw is not None and 0 < raw < 0.5:
            p = 0.5 * p + 0.5 * raw     # second tick after a (re)start: a raw period
        self._synced += 1
        self._locked = True
        if self._early is not None and self._synced == self.TRUST:
            grid = self._recount_from_start()
            if grid is not None:
                self.lost_ticks += grid[0] - n
                self._state = (*grid, True)
                self._fit.clear()
                return
        self._fit.append((n, t))
        fitted = self._fitted_period()
        p = fitted if fitted is not None else p + self.BETA * err
        self._state = (n, pred + self.ALPHA * err, p, True)

    def _fitted_period(self):
        """The least-squares period of the latest ticks in tempo, once they span half of
        FIT (None before). Ticks come late, never early, by a few ms, and now and then by
        most of a period: over two to four beats that moves the slope by well under 0.1 %."""
        pts = self._fit
        k = len(pts)
        if k < self.FIT // 2:
            return None
        n0, t0 = pts[0]
        sx = sy = sxx = sxy = 0.0
        for n, t in pts:
            x, y = n - n0, t - t0
            sx += x
            sy += y
            sxx += x * x
            sxy += x * y
        den = k * sxx - sx * sx
        return (k * sxy - sx * sy) / den if den > 0 else None

    def _whole_periods_off(self, p, count):
        """k if the latest `count` outliers all lie k whole periods late on the grid (k >
        0), else 0. A tempo jump makes them drift apart instead."""
        errs = self._errs[-count:]
        k = round(sum(errs) / len(errs) / p)
        tol = self.WHOLE * p
        if not 1 <= k <= self.MAX_LOST or max(errs) - min(errs) > tol or \
                any(abs(e - k * p) > tol for e in errs):
            return 0
        return k

    def _recount_from_start(self):
        """(index, time, period) of the latest tick, counting the ticks lost since the
        start; None if the arrivals do not sit on one grid (the tempo changed).

        Among the first ticks the period was a guess: a tick lost then went unseen, or
        the guess made the clock resync (from the tick after, one short). Once ticks
        have come in tempo, the arrivals since the start give the grid: the period
        from their intervals, then a fit to those on time. Counted back along it from
        the latest, every arrival takes a line of its own (a tick may come late, even
        with the one after it, never early), and the lines none takes are ticks lost.
        """
        times, self._early = self._early, None
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        mid = gaps[len(gaps) // 2]
        near = [g for g in gaps if abs(g - mid) < self.WHOLE * mid]
        p = sum(near) / len(near)
        tol = self.WHOLE * p
        offs = sorted(x - round(x)
                      for x in ((t - times[-1]) / p for t in times[-self.TRUST:]))
        t0 = times[-1] + offs[len(offs) // 2] * p          # a line of the grid
        for _ in range(3):
            lines = []
            line = math.floor((times[-1] - t0) / p + self.WHOLE) + 1
            for t in reversed(times):
                line = min(math.floor((t - t0) / p + self.WHOLE), line - 1)
                lines.append(line)
            lines.reverse()
            on_time = [(x, t) for x, t in zip(lines, times) if abs(t - t0 - x * p) <= tol]
            if len(on_time) < self.TRUST:
                return None
            t0, p = _fit([x for x, _ in on_time], [t for _, t in on_time])
            tol = self.WHOLE * p
        if any(t - t0 - x * p < -tol for x, t in zip(lines, times)):
            return None                 # early for this grid: the tempo changed
        skipped = [(b - a) + max(0.0, a - t0 - x * p) - (y - x) * p
                   for x, y, a, b in zip(lines, lines[1:], times, times[1:]) if y - x > 1]
        if len(skipped) > 2 or any(g < -tol for g in skipped):
            # Lines skipped in intervals too short for them (unless the tick before
            # was late), or in many places: a master that sped up, not ticks lost.
            return None
        last = lines[-1]
        return self._early_n0 + last - lines[0], t0 + last * p, p

    def _through_stall(self, t, raw, p):
        """One tick after a stall. The state (the beat) is left to run on from where
        the last good tick was due until three intervals in a row agree: on the period
        (the master kept its tempo: count by time) or on another (a new tempo: count
        by arrivals)."""
        n_good, t_good, count, steady = self._stall     # steady: [(interval, ahead)]
        count += 1
        if raw is None or raw < self.BURST * p:
            self._stall = (n_good, t_good, count, [])   # held ticks, let out together
            return
        period = self._long_period(n_good, t_good, p)
        ahead = (t - t_good) / period - count           # ticks missed, plus lateness
        steady = (steady + [(raw, ahead)])[-2 * self.OUTLIERS:]
        last = sorted(g for g, _ in steady[-self.OUTLIERS:])
        mid = last[len(last) // 2]
        if len(last) < self.OUTLIERS or last[-1] - last[0] > self.WHOLE * mid:
            self._stall = (n_good, t_good, count, steady)
            return
        if abs(mid - p) <= self.WHOLE * p:
            # At the period again: the master is where the time since the last good
            # tick says (the ticks lost and the ticks held up are all in that time).
            # A tick may still be late, never early, and one late by half a period
            # would count a tick too many: of the three, the earliest tells.
            least = min(a for _, a in steady[-self.OUTLIERS:])
            missed = round(least)
            if not -count < missed <= self.MAX_LOST:
                missed = 0
            self.lost_ticks += max(missed, 0)
            k = count + missed
            self._resume(n_good + k, t_good + (k + least - missed) * period, p)
            return
        # Another period. Three intervals agreeing to 25 % are not enough to believe
        # it: ticks jittered by most of a period (a loaded machine, the soak) agreed
        # by chance on one 29 % long, and the next tick then looked doubled. Two
        # periods apart, or three, is also every other tick lost. So twice as many
        # intervals must agree before a new tempo is counted by arrivals.
        gaps = [g for g, _ in steady]
        if len(gaps) < 2 * self.OUTLIERS or max(gaps) - min(gaps) > self.WHOLE * mid:
            self._stall = (n_good, t_good, count, steady)
            return
        self._resume(n_good + count, t, mid)            # a new tempo: counted
        self._anchor = (n_good + count, t)
        self._fit.clear()

    def _long_period(self, n, t, p):
        """The fitted period; before there is one, the period over all the ticks since
        the last (re)start or resync (arrival times), if they span a beat and agree
        with `p` to 0.5 %. Counting the ticks of a long stall by time needs better than
        the filter's estimate: 160 ticks with the period 0.3 % off come out one tick
        wrong."""
        fitted = self._fitted_period()
        if fitted is not None:
            return fitted
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
        self._steady = 0
        self._outliers = 0
        self._errs.clear()

    @staticmethod
    def _smooth_period(p, raw):
        return p + 0.1 * (raw - p)

    def on_start(self, t):
        """0xFA: play from the top; the next tick is beat 0."""
        _, _, p, _ = self._state
        self._state = (-1, None, self._known_period(p), True)
        self.started = True
        self._count_afresh()

    def on_continue(self, t):
        """0xFB: play on from the current position (e.g. after a song position)."""
        n, tn, p, _ = self._state
        self._state = (n, tn, self._known_period(p), True)
        self.started = True
        self._count_afresh()

    def _known_period(self, p):
        """At a start: the period of the ticks sent while stopped, if they were steady;
        then it is known and trusted from the first tick. Else the first ticks are
        kept, to count again once they have come in tempo (_recount_from_start)."""
        idle, self._idle = self._idle, []
        if len(idle) == self.TRUST and max(idle) - min(idle) <= self.WHOLE * min(idle):
            self._early = None
            return sum(idle) / len(idle)
        self._early = []
        return p

    def on_stop(self, t):
        """0xFC: stop; the position is kept for a continue."""
        n, tn, p, _ = self._state
        self._state = (n, tn, p, False)
        self.generation += 1

    def on_song_position(self, sixteenths, t):
        """0xF2: the next tick (after a continue) is this many sixteenths in."""
        _, tn, p, playing = self._state
        self._state = (sixteenths * (PPQN // 4) - 1, tn, p, playing)
        self._count_afresh()

    def _count_afresh(self):
        """A start, continue or song position: the ticks are counted, and the tempo
        fitted, from the next one on; readers see a new generation."""
        self._synced = 0
        self._locked = False
        self._steady = 0
        self._stall = None
        self._fit.clear()
        self._outliers = 0         # what was off the grid before has no say now
        self._errs.clear()
        self.generation += 1

    # -- queries (any thread) --------------------------------------------------------

    def timeout(self, p):
        """No tick for this long means the master has gone (unplugged, crashed)."""
        return max(0.3, 6 * p)

    def running(self, now=None):
        n, tn, p, playing = self._state
        if not playing or tn is None or n < 0 or not (self._synced >= 2 or self._locked):
            return False            # (a re-lock at a tempo jump keeps the music going)
        now = time.monotonic() if now is None else now
        last = self._last_raw
        return last is not None and now - last < self.timeout(p)

    def counting(self):
        """The transport plays (from a Start or Continue until a Stop), even before
        the tempo is locked: beats count (`beat_at`) and a note has a place."""
        return self._state[3]

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


def _fit(xs, ys):
    """Least squares y = a + b x: (a, b)."""
    k = len(xs)
    mx = sum(xs) / k
    my = sum(ys) / k
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


