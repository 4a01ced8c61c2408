"""The improviser thread: plan values ahead, bind pitches late, hand notes to the scheduler.

Time is counted in grammar ticks (12 per beat) from the clock's beat 0, so bar
positions follow the clock (with external MIDI clock: the master's bars). The thread

1. keeps values planned up to `plan_ahead_beats` ahead: one `Performer.next_value`
   (one LSTM step, state carried forever) per value, with the chord sounding now as the
   best guess of the chord at that onset;
2. at each onset − `realize_ahead_ms`, asks `Performer.realize` for the pitch against
   the chord sounding *then* (late binding), or the chord the learned form says
   arrives on this very onset (`anticipate_changes`), and schedules note-on at the
   (swung) onset and note-off at onset + gate × the note's (swung) length.
   Once chord changes have been seen landing on beats (a sequencer sends each new
   chord exactly on its beat), a note on a beat whose chord the form cannot predict
   waits `change_grace_ms` past the beat before it is bound and played; without the
   wait the note on that beat would answer the old chord. Only beats of the bar where
   a change has landed before wait (the downbeat, beat 3 in most tunes), and once the
   form is known, a beat where it had no change last time round does not wait.

Deadlines are recomputed from the clock at binding time, so a tempo change (SIGHUP,
or an external clock speeding up) applies to every note not yet bound.

It falls silent, ending the phrase (`Performer.end_phrase`; the LSTM state is kept),
when the chord goes (NO_CHORD after `hold_beats`), the clock stops, the output is lost,
the performer is switched off, or someone silenced the scheduler (its epoch changed).
It starts again on the next eighth-note grid point once all of that is back.
"""

import collections
import logging
import threading
import time

from jazzd.live.scheduler import try_realtime
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.swing import swung_beats

log = logging.getLogger("jazzd.improviser")

START_GRID = TPQ // 2        # a phrase starts on an eighth-note grid point
START_LEAD = 0.02            # ... at least this far (s) beyond the binding lead
MAX_WAIT = 0.01              # the loop re-reads the clock at least this often
LATE_DROP = 0.005            # a note whose onset is this far past is skipped, not played
GRACE_LEAD = 0.002           # a graced note is bound this long before it is sent


class Improviser(threading.Thread):
    """`clock()`, `cfg()` and `can_play()` are callables, so a reload can swap them."""

    def __init__(self, performer, clock, cfg, listener, scheduler, can_play=lambda: True,
                 realtime_priority=0):
        super().__init__(name="jazzd-improviser", daemon=True)
        self.realtime_priority = realtime_priority
        self.performer = performer
        self.clock = clock
        self.cfg = cfg
        self.listener = listener
        self.scheduler = scheduler
        self.can_play = can_play
        self._halt = threading.Event()
        self.active = False
        self.plan = collections.deque()     # (tick, Value)
        self.cursor = 0                     # tick of the next value to plan
        self._gen = None
        self._epoch = None
        self.dropped_late = 0
        self.anticipated = 0
        self.graced = 0
        self.latency = 0.0                  # s: play this much early (midi_io latency)
        self.phrases = 0
        self.on_error = None

    def stop(self, timeout=1.0):
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self):
        try_realtime(self.realtime_priority)
        try:
            while not self._halt.is_set():
                self.scheduler.keep_quiet()
                wait = self.step(time.monotonic())
                if wait > 0:
                    self._halt.wait(wait)
        except BaseException as e:     # noqa: BLE001 - reported to the daemon, which silences
            if self.on_error is not None:
                self.on_error(e)
            else:
                raise

    # -- one pass --------------------------------------------------------------------

    def _end_phrase(self):
        if self.active:
            self.active = False
            self.plan.clear()
            self.performer.end_phrase()

    def step(self, now):
        """Plan and bind what is due at `now`; return seconds until the next pass."""
        clock = self.clock()
        cfg = self.cfg()
        perf = self.performer
        scheduler = self.scheduler
        playable = clock.running(now) and self.can_play() and perf.enabled
        if self.active and (not playable or clock.generation != self._gen
                            or scheduler.epoch != self._epoch):
            self._end_phrase()
        if not self.active:
            if not (playable and self.listener.chord):
                return MAX_WAIT
            self._start(clock, cfg, now)

        imp = cfg["improviser"]
        tempo = cfg["tempo"]
        swing = tempo["swing"]
        bar = tempo["beats_per_bar"] * TPQ
        ahead = imp["realize_ahead_ms"] / 1000.0
        early = self.latency

        # 1. plan values up to plan_ahead_beats ahead
        horizon = (clock.beat_at(now) + imp["plan_ahead_beats"]) * TPQ
        guess = self.listener.binding_chord()
        anticipate = imp["anticipate_changes"] and guess
        while self.cursor <= horizon and len(self.plan) < 256:
            # plan against the chord the form memory expects at the onset, as the
            # offline path plans against the chart's (the heads learned rhythm and
            # kind around the changes; a stale guess hides them)
            expected = (self.listener.anticipate(swung_beats(self.cursor, swing), guess)
                        if anticipate else None)
            value = perf.next_value(self.cursor % bar, expected or guess)
            self.plan.append((self.cursor, value))
            self.cursor += value.ticks

        # 2. bind and schedule the values whose onsets are within `ahead`
        grace = imp["change_grace_ms"] / 1000.0
        while self.plan:
            tick, value = self.plan[0]
            beat = swung_beats(tick, swing)
            onset = clock.time_of(beat) - early
            earliest = onset - max(ahead, GRACE_LEAD)
            if earliest > now:                     # not due yet, grace or not
                return min(earliest - now, MAX_WAIT)
            ahead_chord = None
            if imp["anticipate_changes"]:
                ahead_chord = self.listener.anticipate(beat, self.listener.binding_chord())
            graced = (grace > 0 and tick % TPQ == 0 and ahead_chord is None
                      and self.listener.may_change_on(beat)
                      and not (imp["anticipate_changes"] and self.listener.quiet(beat)))
            bind_at = onset + grace - GRACE_LEAD if graced else onset - ahead
            if bind_at > now:
                return min(bind_at - now, MAX_WAIT)
            self.plan.popleft()
            if onset < now - LATE_DROP - (grace if graced else 0.0):
                self.dropped_late += 1        # woke too late (a stall, a tempo jump)
                continue
            chord = self.listener.binding_chord()
            if not chord:
                self._end_phrase()            # the chord has gone: end of phrase
                return MAX_WAIT
            if ahead_chord is not None:
                chord = ahead_chord           # the form says it changes right here
                self.anticipated += 1
                log.debug("anticipating %s at beat %.2f", chord.symbol, beat)
            elif graced:
                onset += grace                # waited for a chord landing on the beat
                self.graced += 1
            pitch = perf.realize(value, chord, tick % bar)
            if pitch is None:
                continue                      # a rest
            end = clock.time_of(swung_beats(tick + value.ticks, swing)) - early
            off = onset + imp["gate"] * (end - onset)
            velocity = perf.velocity(tick % bar)
            scheduler.note(onset, off, pitch, velocity, self._epoch)
            now = time.monotonic()
        return 0.0

    def _start(self, clock, cfg, now):
        """Begin a phrase at the next eighth-note grid point far enough ahead."""
        ahead = cfg["improviser"]["realize_ahead_ms"] / 1000.0
        first = clock.beat_at(now + ahead + START_LEAD) * TPQ
        tick = int(-(-first // START_GRID)) * START_GRID
        self.cursor = max(tick, 0)
        self.plan.clear()
        self._gen = clock.generation
        self._epoch = self.scheduler.epoch
        self.active = True
        self.phrases += 1
