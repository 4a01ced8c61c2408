"""Which chord is the keyboard playing? Held notes + sustain pedal → a debounced Chord.

Per channel it tracks the keys down and the notes held by the sustain pedal (CC64);
what sounds is their union over the configured channels, optionally only below
`split_note` (the left hand comps, the right hand is left alone).

Two readings are published, each by swapping one reference (atomic in CPython):

- `chord`: the *change*. A new set of notes must stand still for `debounce_ms` before
  it counts, so a rolled chord is one change, not four. When the notes stop forming a
  chord (all released, or fewer than three pitch classes) the last chord is kept for
  `hold_beats` beats, then becomes NO_CHORD: the phrase ends and the improviser falls
  silent.
- `fresh`: the chord of the notes held right now, recognised on every note event
  (NO_CHORD if they form none). Late binding uses it, so a chord struck a few ms before
  an onset is honoured by that note even inside the debounce window.

A third reading anticipates: the form memory (form_memory.py) learns the chord form
when it repeats and offers the chord that came at a spot last time round.

All mutations happen on the dispatcher thread; other threads only read `chord`,
`fresh`, `binding_chord()` and `anticipate()`.
"""

import logging

from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.recognize import recognize
from jazzd.live.form_memory import FormMemory

log = logging.getLogger("jazzd.chords")


ON_BEAT_EARLY = 0.006   # s: a change this close before a beat, or
ON_BEAT_LATE = 0.015    # ... this close after it, counts as sent on the beat
ON_BEAT_RUN = 2         # changes in a row on the beat before we call it a sequencer


class ChordListener:
    def __init__(self, midi_cfg, seconds_per_beat, recognize=recognize, beat_at=None,
                 beats_per_bar=4):
        """`seconds_per_beat()` gives the current beat length (for `hold_beats`);
        `beat_at(t)` the clock's beat at time t (for the form memory; None = none)."""
        self._recognize = recognize
        self.seconds_per_beat = seconds_per_beat
        self.beat_at = beat_at
        self.form = FormMemory(beats_per_bar)
        self._change_start = None   # time of the first note event of a change in progress
        self._down = [set() for _ in range(16)]        # keys down, per channel
        self._held = [set() for _ in range(16)]        # released but held by the pedal
        self._pedal = [False] * 16
        self.chord = NO_CHORD
        self.fresh = NO_CHORD
        self.changes = 0
        # Did the last changes from one chord to another land on beats, as a sequencer
        # sends them? Then the improviser waits a moment on beats for the next one.
        self.changes_on_beat = False
        self._on_beat_run = 0
        self._change_beats = 0      # bit b: a change has landed on beat b of a bar
        self._pending = None        # time at which the current note set becomes a change
        self._hold_until = None     # time at which a released chord becomes NO_CHORD
        self.configure(midi_cfg)

    def configure(self, midi_cfg, t=None, beats_per_bar=None):
        """New settings (a reload). Held notes that no longer count (a lower split
        note, a channel taken out) are forgotten at once: their note-offs will not
        count either, so they would hold a phantom chord for good. A new metre starts
        a new form memory."""
        if beats_per_bar is not None and beats_per_bar != self.form.beats_per_bar:
            self.form = FormMemory(beats_per_bar)
        chans = midi_cfg["chord_channels"]
        self.channels = frozenset(range(16)) if chans == "all" else \
            frozenset(c - 1 for c in chans)
        self.split = midi_cfg["split_note"]
        self.debounce = midi_cfg["debounce_ms"] / 1000.0
        self.hold_beats = midi_cfg["hold_beats"]
        dropped = False
        for ch in range(16):
            for notes in (self._down[ch], self._held[ch]):
                gone = {n for n in notes if not self.counts(ch, n)}
                if gone:
                    notes -= gone
                    dropped = True
        if dropped and t is not None:
            self._changed(t)

    # -- events (dispatcher thread; channels are 0-based) -----------------------------

    def counts(self, ch, note):
        """Does this note (0-based channel) take part in the harmony?"""
        return ch in self.channels and (self.split is None or note < self.split)

    def note_on(self, t, ch, note, velocity):
        if velocity == 0:
            return self.note_off(t, ch, note)
        if not self.counts(ch, note):
            return False
        self._down[ch].add(note)
        self._held[ch].discard(note)
        self._changed(t)
        return True

    def note_off(self, t, ch, note):
        if not self.counts(ch, note) or note not in self._down[ch]:
            return False        # a note-off without its note-on: nothing to do
        self._down[ch].discard(note)
        if self._pedal[ch]:
            self._held[ch].add(note)
            return True         # still sounding: nothing changed
        self._changed(t)
        return True

    def sustain(self, t, ch, value):
        if ch not in self.channels:
            return False
        down = value >= 64
        if down == self._pedal[ch]:
            return False
        self._pedal[ch] = down
        if not down and self._held[ch]:
            self._held[ch].clear()
            self._changed(t)
        return True

    def panic(self, t, ch):
        """All notes off, all sound off (CC123, CC120) or reset all controllers
        (CC121) on channel `ch`: a keyboard's panic button, a DAW's stop. Nothing is
        held there any more, sustain pedal included; the chord ends at once (no hold)
        when nothing is held anywhere."""
        self._down[ch].clear()
        self._held[ch].clear()
        self._pedal[ch] = False
        self.fresh = self._recognize(self.sounding_notes())
        if not self.sounding_notes():
            self._pending = None
            self._hold_until = None
            self.chord = NO_CHORD
        else:
            self._changed(t)

    def reset(self, t=None):
        """The input device went away: forget every note and fall silent at once."""
        for s in self._down + self._held:
            s.clear()
        self._pedal = [False] * 16
        self._pending = None
        self._hold_until = None
        self.fresh = NO_CHORD
        self.chord = NO_CHORD
        self.forget_timing()

    def forget_timing(self):
        """A new source or a new start (the device went away, bar 1 again): forget the
        form and that changes came on the beat, so no note waits `change_grace_ms` for
        a sequencer that has gone until changes land on beats again."""
        self.form.reset()
        self.changes_on_beat = False
        self._on_beat_run = 0
        self._change_beats = 0

    def sounding_notes(self):
        notes = set()
        for ch in self.channels:
            notes |= self._down[ch]
            notes |= self._held[ch]
        return sorted(notes)

    def _changed(self, t):
        self.fresh = self._recognize(self.sounding_notes())
        if self._pending is None:
            self._change_start = t
        self._pending = t + self.debounce
        if self.debounce <= 0:
            self.poll(t)

    # -- timers ----------------------------------------------------------------------

    def poll(self, now):
        """Run the debounce and hold timers; return the next time to call, or None."""
        if self._pending is not None and now >= self._pending:
            settled, self._pending = self._pending, None
            fresh = self.fresh
            if fresh:
                self._hold_until = None
                if fresh != self.chord:
                    prev, self.chord = self.chord, fresh
                    self.changes += 1
                    if self.beat_at is not None and self._change_start is not None:
                        beat = self.beat_at(self._change_start)
                        self.form.record(beat, fresh)
                        if prev:
                            lag = (beat - round(beat)) * self.seconds_per_beat()
                            on_beat = -ON_BEAT_EARLY <= lag <= ON_BEAT_LATE
                            self._on_beat_run = self._on_beat_run + 1 if on_beat else 0
                            self.changes_on_beat = self._on_beat_run >= ON_BEAT_RUN
                            if on_beat:
                                self._change_beats |= 1 << (round(beat)
                                                            % self.form.beats_per_bar)
            elif self.chord and self._hold_until is None:
                self._hold_until = settled + self.hold_beats * self.seconds_per_beat()
        if self._hold_until is not None and now >= self._hold_until:
            self._hold_until = None
            self.chord = NO_CHORD
        nxt = [x for x in (self._pending, self._hold_until) if x is not None]
        return min(nxt) if nxt else None

    # -- reading (any thread) --------------------------------------------------------

    def binding_chord(self):
        """The chord to bind a pitch against now: the freshest one sounding.

        `fresh` when the held notes form a chord (even before the debounce has passed),
        else the published `chord` (held after release, or NO_CHORD).
        """
        fresh = self.fresh
        return fresh if fresh else self.chord

    def anticipate(self, beat, current):
        """The chord the form predicts at `beat` instead of `current`, or None.

        Only when no change is in progress (the held notes are the published chord):
        what is actually played always wins.
        """
        if self.fresh and self.fresh != self.chord:
            return None
        return self.form.predict(beat, current)

    def quiet(self, beat):
        """The form says no change is due at `beat` (see FormMemory.quiet)."""
        return self.form.quiet(beat)

    def may_change_on(self, beat):
        """Could a chord land exactly on `beat` (a whole beat)? Once changes have come
        on the beat (a sequencer), yes on the beats of the bar where one already has
        (the downbeat, beat 3 in most tunes); a note on beat 2 of a standard need not
        wait for a chord that never comes there."""
        return self.changes_on_beat and bool(
            self._change_beats >> (round(beat) % self.form.beats_per_bar) & 1)
