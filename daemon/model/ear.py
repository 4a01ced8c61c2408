"""The ear: the player's melody, note by note, told to the performer as values.

Live (the improviser thread) and offline (`jazzd generate --trade`) both hand it the
player's notes as they come: `on(tick, pitch, chord)` when a note starts (`tick_of`
puts a played position on the grid), `off(beats, pitch)` when its sound stops. It makes
values of them by the rules the training corpus was read with (`jazzd.grammar.jazzomat`,
`jazzd.grammar.parse`), so the network hears the player as it heard the players it
learned from:

- onsets are un-swung (by `tempo.swing`) and put on the corpus's onset grid
  (sixteenths, eighth and sixteenth triplets); an off-beat played anywhere from a
  straight eighth to a triplet's last third is the off-beat eighth, as the corpus
  reader counts a swung pair (`EIGHTH_ZONE`): players swing more or less than jazzd
  does, and a straight eighth must not come out a triplet;
- a value lasts from its onset to the next one (GRAMMAR.md); a silence of half a beat
  or more after a note's sound is a rest (`jazzomat.rest_after`), the note's end on the
  grid; a shorter silence is articulation;
- a note tied over a bar line stays one value; rests are cut at bar lines;
- two onsets on one grid point: the higher pitch is the line;
- a note is classified against the chord sounding at its onset.

A value is told once its length is known: at the next onset, or at `flush(tick)` (the
player's turn is over, or jazzd is about to answer), which tells the rest up to `tick`
too. `position` is the tick up to which the line has been told, by the ear or by jazzd
playing (the improviser moves it when jazzd's phrase ends); a gap before the next note
is told as a rest.
"""

from jazzd.grammar.jazzomat import GRID, REST_GAP_BEATS, end_tick, snap
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.swing import unswung_ticks

# Un-swung ticks of the beat heard as its off-beat eighth (6): from just before a
# straight eighth (5 ticks with the default swing 0.6, 6 with 0.5) to a triplet's last
# third (7 with 0.6, and a little later; 8 with 0.5 stays a triplet).
EIGHTH_ZONE = (4.5, 7.25)


class Ear:
    """`performer.hear` is told each value; `chord_at(tick)` gives the chord for a
    rest (live: the chord sounding now; offline: the chart's)."""

    def __init__(self, performer, swing, chord_at, bar_ticks):
        self.performer = performer
        self.swing = swing
        self.chord_at = chord_at
        self.bar_ticks = bar_ticks
        self.position = None      # the tick up to which the line has been told
        self._note = None         # [onset tick, end in straight beats or None, pitch, chord]
        self.told = 0             # notes told since the start
        self.call_start = None    # onset tick of the first note since `answered()`
        self.call_end = None      # the latest end of a note since (straight ticks)

    def tick_of(self, beats):
        """The onset-grid tick of a played position (clock beats, swung)."""
        ticks = unswung_ticks(beats, self.swing)
        frac = ticks % TPQ
        if EIGHTH_ZONE[0] <= frac <= EIGHTH_ZONE[1]:
            return int(ticks - frac) + TPQ // 2
        return snap(ticks / TPQ, GRID)

    def on(self, tick, pitch, chord):
        """A note starts at grid tick `tick` (the previous one, if any, is told: its
        length is known now)."""
        n = self._note
        if n is not None:
            if tick <= n[0]:              # the same onset: a double stop, or a flam
                if pitch > n[2]:
                    n[1:] = [None, pitch, chord]
                return
            self._tell(n, tick)
        self._note = [tick, None, pitch, chord]
        if self.call_start is None:
            self.call_start = tick

    def off(self, beats, pitch):
        """The sound of `pitch` stopped at `beats` (clock beats, swung)."""
        n = self._note
        if n is not None and n[2] == pitch and n[1] is None:
            n[1] = unswung_ticks(beats, self.swing) / TPQ
            end = n[1] * TPQ
            self.call_end = end if self.call_end is None else max(self.call_end, end)

    def chord(self, pitch, chord):
        """The chord at the onset of the pending note (of `pitch`) was struck just
        after it."""
        if self._note is not None and self._note[2] == pitch:
            self._note[3] = chord

    def sounding(self):
        return self._note is not None and self._note[1] is None

    def flush(self, tick):
        """Tell the line up to `tick`: the pending note (cut there if it still sounds)
        and the rest after it."""
        n = self._note
        if n is not None and n[0] < tick:
            if n[1] is None:
                self.call_end = tick if self.call_end is None else max(self.call_end, tick)
            self._tell(n, tick)
            self._note = None
        if self.position is None:
            self.position = tick
        self._rest_to(tick)

    def forget(self):
        """Drop the pending note and the call (the mode changed)."""
        self._note = None
        self.answered()

    def answered(self):
        """jazzd answers what it heard: the next note starts a new call."""
        self.call_start = self.call_end = None

    def _tell(self, n, nxt):
        onset, end, pitch, chord = n
        if self.position is None:
            self.position = onset - onset % self.bar_ticks   # a line opens at its bar
        if onset > self.position:
            self._rest_to(onset)
        stop = nxt
        if end is not None and nxt / TPQ - end >= REST_GAP_BEATS:
            stop = end_tick(onset, end, nxt) or nxt
        self.performer.hear(pitch, stop - onset, onset, chord)
        self.told += 1
        self.position = max(self.position, stop)

    def _rest_to(self, tick):
        pos = self.position
        bar = self.bar_ticks
        while pos < tick:
            cut = min(tick, pos - pos % bar + bar)
            self.performer.hear(None, cut - pos, pos, self.chord_at(pos))
            pos = cut
        self.position = max(self.position, tick)
