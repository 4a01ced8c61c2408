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

Trading (`interplay.mode`, docs/LIVE.md "Trading"). The thread owns an `Ear` and feeds
it the melody listener's events, so the player's line goes through the performer's
network (`Performer.hear`) as it is played. jazzd plays only in a window:

- trade: jazzd's turns (`jazzd.grammar.turns`). Planning starts just before the
  turn's downbeat, after the ear has told the whole call (its last note cut at the
  downbeat, the rest up to it); the first value is a note on the downbeat; nothing is
  planned from the next player's downbeat on, and a note tied over it is cut there.
  Player's notes that start in jazzd's turn are not heard.
- answer: once the call (the notes since the last answer) has been followed by
  `answer_after_beats` of silence, from the next eighth-note grid point, for the
  call's length rounded up to a beat. A melody note-on silences it at once (the
  dispatcher does that, as `speaking` says; this thread checks too).

A mode switch (CC or reload) takes effect at once: to trade, a phrase in jazzd's
turn goes on to the turn's end and one in the player's turn is silenced; to answer,
jazzd goes on until the player comes in; to off, it plays on.
"""

import collections
import logging
import queue
import threading
import time

from jazzd.live.scheduler import try_realtime
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.swing import swung_beats
from jazzd.grammar.turns import JAZZD, Turns
from jazzd.model.ear import Ear

log = logging.getLogger("jazzd.improviser")

START_GRID = TPQ // 2        # a phrase starts on an eighth-note grid point
START_LEAD = 0.02            # ... at least this far (s) beyond the binding lead
MAX_WAIT = 0.01              # the loop re-reads the clock at least this often
IDLE_WAIT = 0.1              # ... and this often with nothing to play (input pokes it)
LATE_DROP = 0.005            # a note whose onset is this far past is skipped, not played
GRACE_LEAD = 0.002           # a graced note is bound this long before it is sent
GRACE_BIND = 0.001           # ... and at the earliest this long after its beat (a
                             # chord that lands on the beat is known by then)
MIN_SOUND = 0.015            # s: a note sounds at least this long (a graced note moved
                             # past its planned end still ends after it began)
# Trading: a turn's first note sounds this long after the turn's downbeat, and jazzd's
# notes end this long before the player's. JACK delivers at the next period and an
# external clock's phase is known to a millisecond or so: without the margin, a note
# on the downbeat lands a hair before it about half the time, in the other's turn.
TURN_MARGIN = 0.005
HANDOVER_SLACK = 0.001       # s: a note is bound this long before the scheduler hands it


class Improviser(threading.Thread):
    """`clock()`, `cfg()` and `can_play()` are callables, so a reload can swap them."""

    def __init__(self, performer, clock, cfg, listener, scheduler, can_play=lambda: True,
                 realtime_priority=0, melody=None):
        super().__init__(name="jazzd-improviser", daemon=True)
        self.realtime_priority = realtime_priority
        self.performer = performer
        self.clock = clock
        self.cfg = cfg
        self.listener = listener
        self.scheduler = scheduler
        self.can_play = can_play
        self._halt = threading.Event()
        self._poke = threading.Event()      # set by poke() and stop()
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
        self.monotonic = time.monotonic     # the time source (a test's own, in its tests)
        # trading
        self.melody = melody                # the melody listener (events, settings, down)
        self.until = None                   # tick the phrase must end by, None = open
        self.window_start = None            # tick the phrase began at
        self.opening = False                # the next value opens a turn: a note
        self.speaking = False               # answering: a melody note-on silences it
        self.ear = None
        self._mode = "off"
        self._ear_gen = None                # the clock generation the ear counts in
        self._turns = None                  # (key, Turns)
        self._turn_played = None            # index of jazzd's turn played last

    def poke(self):
        """Something came in (a chord, a start, a control): look at once, not at the
        next IDLE_WAIT."""
        self._poke.set()

    def stop(self, timeout=1.0):
        self._halt.set()
        self._poke.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self):
        try_realtime(self.realtime_priority)
        try:
            while not self._halt.is_set():
                self.scheduler.keep_quiet()
                wait = self.step(self.monotonic())
                if wait > 0:
                    self._poke.wait(wait)
                    self._poke.clear()
        except BaseException as e:     # noqa: BLE001 - reported to the daemon, which silences
            if self.on_error is not None:
                self.on_error(e)
            else:
                raise

    # -- one pass --------------------------------------------------------------------

    def _end_phrase(self):
        self.speaking = False
        if self.active:
            self.active = False
            self.plan.clear()
            self.performer.end_phrase()
            if self.ear is not None:
                self.ear.position = self.cursor       # where the network's line is

    def step(self, now):
        """Plan and bind what is due at `now`; return seconds until the next pass."""
        clock = self.clock()
        cfg = self.cfg()
        perf = self.performer
        perf.set_tempo(clock.bpm)      # the network hears the tempo it plays at
        scheduler = self.scheduler
        playable = clock.running(now) and self.can_play() and perf.enabled
        if self.active and (not playable or clock.generation != self._gen
                            or scheduler.epoch != self._epoch):
            self._end_phrase()
        inter = self.melody.settings if self.melody is not None else None
        if inter is not None and (inter.mode != "off" or self._mode != "off"):
            wait = self._interplay(now, clock, cfg, inter, playable)
            if wait is not None:
                return wait
        elif not self.active:
            if not (playable and self.listener.chord):
                return IDLE_WAIT
            self._start(clock, cfg, now)

        self._plan(now, clock, cfg)
        return self._bind(now, clock, cfg)

    def _plan(self, now, clock, cfg):
        """Plan values up to plan_ahead_beats ahead (and not past a turn's end)."""
        imp, perf = cfg["improviser"], self.performer
        swing = cfg["tempo"]["swing"]
        bar = cfg["tempo"]["beats_per_bar"] * TPQ
        horizon = (clock.beat_at(now) + imp["plan_ahead_beats"]) * TPQ
        guess = self.listener.binding_chord()
        anticipate = imp["anticipate_changes"] and guess
        until = self.until
        while self.cursor <= horizon and len(self.plan) < 256 and (
                until is None or self.cursor < until):
            # plan against the chord the form memory expects at the onset, as the
            # offline path plans against the chart's (the heads learned rhythm and
            # kind around the changes; a stale guess hides them)
            expected = (self.listener.anticipate(swung_beats(self.cursor, swing), guess)
                        if anticipate else None)
            # a turn or an answer starts on time: its first value is a note
            value = perf.next_value(self.cursor % bar, expected or guess,
                                    no_rest=self.opening)
            self.opening = False
            self.plan.append((self.cursor, value))
            self.cursor += value.ticks

    def _bind(self, now, clock, cfg):
        """Bind and schedule the values whose onsets are within the binding lead;
        return seconds until the next pass."""
        imp, perf, scheduler = cfg["improviser"], self.performer, self.scheduler
        swing = cfg["tempo"]["swing"]
        bar = cfg["tempo"]["beats_per_bar"] * TPQ
        ahead = self._ahead(cfg)
        early = self.latency
        until = self.until
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
            # (a wait the output cannot meet on time, a JACK period longer than the
            # grace, is not taken: the note plays on the beat, bound a period ahead)
            graced = (grace - GRACE_BIND >= max(GRACE_LEAD, ahead) and tick % TPQ == 0
                      and ahead_chord is None
                      and self.listener.may_change_on(beat)
                      and not (imp["anticipate_changes"] and self.listener.quiet(beat)))
            bind_at = onset + grace - max(GRACE_LEAD, ahead) if graced else onset - ahead
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
                log.debug("waited for a chord at beat %.2f", beat)
            if tick == self.window_start and until is not None:
                onset = max(onset, clock.time_of(beat) - early + TURN_MARGIN)
            pitch = perf.realize(value, chord, tick % bar)
            if pitch is None:
                continue                      # a rest
            end = clock.time_of(swung_beats(tick + value.ticks, swing)) - early
            off = max(onset + imp["gate"] * (end - onset), onset + MIN_SOUND)
            if until is not None:             # ends by the next player's downbeat
                last = clock.time_of(swung_beats(until, swing)) - early - TURN_MARGIN
                if onset + MIN_SOUND > last:
                    continue                  # (a graced note pushed into their turn)
                off = min(off, last)
            velocity = perf.velocity(tick % bar)
            scheduler.note(onset, off, pitch, velocity, self._epoch)
            now = self.monotonic()            # the sends took time: bind on time
        return 0.0

    def _start(self, clock, cfg, now):
        """Begin a phrase at the next eighth-note grid point far enough ahead."""
        self._begin(clock, self._next_grid(clock, cfg, now), None)

    def _next_grid(self, clock, cfg, now):
        """The first eighth-note grid tick far enough ahead of `now` to be planned."""
        ahead = self._ahead(cfg)
        first = clock.beat_at(now + ahead + START_LEAD) * TPQ
        return max(int(-(-first // START_GRID)) * START_GRID, 0)

    def _begin(self, clock, tick, until, opening=False):
        self.cursor = self.window_start = tick
        self.until = until
        self.opening = opening
        self.plan.clear()
        self._gen = clock.generation
        self._epoch = self.scheduler.epoch
        self.active = True
        self.phrases += 1

    # -- trading -------------------------------------------------------------------------

    def _interplay(self, now, clock, cfg, inter, playable):
        """Trade and answer: hear the player, and start jazzd only in its window.
        Returns a wait (s) while jazzd stays silent, or None to plan and bind."""
        if self.ear is None:
            self.ear = Ear(self.performer, cfg["tempo"]["swing"],
                           lambda _tick: self.listener.binding_chord(),
                           cfg["tempo"]["beats_per_bar"] * TPQ)
        ear = self.ear
        ear.performer = self.performer            # a reload may bring a new one
        ear.swing = cfg["tempo"]["swing"]
        ear.bar_ticks = cfg["tempo"]["beats_per_bar"] * TPQ
        self.performer.echo = inter.echo
        if clock.generation != self._ear_gen:     # a Start, a song position, bar 1
            self._ear_gen = clock.generation
            ear.forget()
            ear.position = None
            self._turn_played = None
        turns = self._turn_grid(inter, cfg)
        if inter.mode != self._mode:
            self._switch(inter.mode, clock, now, turns)
        self._listen(clock, inter, turns)
        if inter.mode == "off":
            if not self.active:
                if not (playable and self.listener.chord):
                    return MAX_WAIT
                self._start(clock, cfg, now)
            return None
        if self.active:
            if self.speaking and self.melody.down:     # answer
                self._player_back()
            elif self.plan or self.until is None or self.cursor < self.until:
                return None
            else:
                self._end_phrase()                      # the window is played
        if not (playable and self.listener.chord):
            return MAX_WAIT
        if inter.mode == "trade":
            return self._trade_start(now, clock, cfg, turns)
        return self._answer_start(now, clock, cfg, inter)

    def _turn_grid(self, inter, cfg):
        key = (inter.trade_bars, cfg["tempo"]["beats_per_bar"], inter.first)
        if self._turns is None or self._turns[0] != key:
            self._turns = (key, Turns(*key))
            self._turn_played = None          # counted on the old grid
        return self._turns[1]

    def _lead(self, cfg):
        return self._ahead(cfg) + START_LEAD + MAX_WAIT

    def _ahead(self, cfg):
        """How long before its onset a note is bound: `realize_ahead_ms`, or longer if
        the output must have it earlier (a JACK output, a period ahead: Scheduler.lead)."""
        return max(cfg["improviser"]["realize_ahead_ms"] / 1000.0,
                   self.scheduler.lead + HANDOVER_SLACK)

    def _switch(self, mode, clock, now, turns):
        """The mode changed (a CC, a reload): at once."""
        old, self._mode = self._mode, mode
        self._turn_played = None
        if old == "off":
            while True:                                # heard before, not listened to
                try:
                    self.melody.events.get_nowait()
                except queue.Empty:
                    break
        if old == "off" or not self.active:
            self.ear.forget()
            if not self.active:
                self.ear.position = None
        if not self.active:
            return
        if mode == "off":
            self.until = None
            self.speaking = False
        elif mode == "answer":
            self.speaking = True                       # on until the player comes in
        else:
            tick = clock.beat_at(now) * TPQ
            if turns.owner(tick) == JAZZD:             # go on to the end of the turn
                start, end = turns.jazzd_turn(tick)
                self.until = end if self.until is None else min(self.until, end)
                self._turn_played = turns.index(start)
                self.speaking = False
                while self.plan and self.plan[-1][0] >= self.until:
                    self.plan.pop()
            else:
                self.scheduler.silence()
                self._end_phrase()

    def _player_back(self):
        """Answering, and the player plays again: jazzd stops at once (the dispatcher
        has silenced the scheduler already if it saw the note first)."""
        self.scheduler.silence()
        self._end_phrase()

    def _listen(self, clock, inter, turns):
        """Tell the ear what the melody listener queued since the last pass."""
        events = self.melody.events
        ear = self.ear
        trade = inter.mode == "trade"
        gen = clock.generation
        while True:
            try:
                ev = events.get_nowait()
            except queue.Empty:
                return
            if ev.generation != gen or inter.mode == "off":
                continue
            if ev.kind == "on":
                tick = ear.tick_of(ev.beat)
                if trade and (self.active or turns.owner(tick) == JAZZD):
                    continue                  # the player plays over jazzd's turn
                if self.speaking:             # answer
                    self._player_back()
                ear.on(tick, ev.note, ev.chord)
            elif ev.kind == "off":
                ear.off(ev.beat, ev.note)
            else:
                ear.chord(ev.note, ev.chord)

    def _trade_start(self, now, clock, cfg, turns):
        """Start jazzd's turn on its downbeat (or, coming in late, on the next eighth),
        once the ear has told the call."""
        early = self.latency
        lead = self._lead(cfg)
        tick_now = clock.beat_at(now) * TPQ
        start, end = turns.jazzd_turn(tick_now)
        index = turns.index(start)
        if start <= tick_now:                          # inside jazzd's turn already
            tick = self._next_grid(clock, cfg, now)
            if index == self._turn_played or end - tick < TPQ:
                start, end = start + 2 * turns.length, end + 2 * turns.length
                index += 2
            else:
                return self._open(clock, tick, end, index)
        wait = clock.time_of(start / TPQ) - early - now - lead
        if wait > 0:
            return min(wait, MAX_WAIT)
        return self._open(clock, start, end, index)

    def _answer_start(self, now, clock, cfg, inter):
        """Answer the call once the player's melody has been silent long enough."""
        ear = self.ear
        if ear.call_start is None or self.melody.down or ear.sounding() \
                or ear.call_end is None:
            return MAX_WAIT
        due = ear.call_end + inter.answer_after_beats * TPQ
        tick = max(int(-(-due // START_GRID)) * START_GRID, self._next_grid(clock, cfg, now))
        wait = clock.time_of(swung_beats(tick, cfg["tempo"]["swing"])) - self.latency \
            - now - self._lead(cfg)
        if wait > 0:
            return min(wait, MAX_WAIT)
        span = max(ear.call_end - ear.call_start, 1)
        length = int(-(-span // TPQ)) * TPQ
        self._open(clock, tick, tick + length, None)
        self.speaking = True
        return None

    def _open(self, clock, tick, until, turn):
        """Begin jazzd's window [tick, until): the ear tells the call up to it first."""
        self.ear.flush(tick)
        self.ear.answered()
        log.debug("playing ticks %d-%d; %d notes heard so far", tick, until, self.ear.told)
        self._begin(clock, tick, until, opening=True)
        self._turn_played = turn
        return None
