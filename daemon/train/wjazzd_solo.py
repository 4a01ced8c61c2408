"""What reading the Weimar Jazz Database gives: a `Solo` on our tick grid (its notes,
the chord on every beat, its choruses, its tempo) and the `Report` of what the reading
moved, dropped or skipped."""

from collections import Counter, defaultdict
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from jazzd.grammar.chart import Chart
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.timeline import ChordTimeline

BEATS_PER_BAR = 4
BAR_TICKS = BEATS_PER_BAR * TPQ
BREAK_BEATS = Fraction(3, 2)     # a silence this long separates phrases (style gap too)


class Note(NamedTuple):
    onset: int            # ticks from the solo's origin
    duration: int         # ticks: to the next onset, or to the end of the sound before a rest
    pitch: int
    phrase_begin: bool    # annotated
    chorus_id: int        # annotated; 0 before the first chorus


class Chorus(NamedTuple):
    id: int
    start: int            # ticks, on a bar line
    end: int              # ticks, on a bar line

    @property
    def bars(self):
        return (self.end - self.start) // BAR_TICKS


class Solo:
    """One transcribed solo on the tick grid (see jazzd.train.wjazzd)."""

    def __init__(self, name, performer, title, notes, beat_chords, first_bar, choruses,
                 bpm=None):
        self.name = name                  # the file's stem, e.g. "ArtPepper_Anthropology_FINAL"
        self.performer = performer
        self.title = title
        self.notes = notes                # [Note], onsets strictly increasing
        self.beat_chords = beat_chords    # [Chord] for every beat from the origin
        self.first_bar = first_bar        # the annotated bar number of tick 0
        self.choruses = choruses          # [Chorus]
        self.bpm = bpm                    # the tempo: 60 / the beat track's median beat
        self.n_bars = -(-len(beat_chords) // BEATS_PER_BAR)

    @property
    def timeline(self):
        """The chord changes (a ChordTimeline, ticks from the origin)."""
        changes, prev = [], None
        for i, c in enumerate(self.beat_chords):
            if c != prev:
                changes.append((i * TPQ, c))
                prev = c
        return ChordTimeline(changes, length=self.n_bars * BAR_TICKS)

    def chorus_notes(self, chorus):
        """The notes starting inside `chorus`, onsets from its start; a note's sound is
        cut at the chorus end."""
        out = []
        for n in self.notes:
            if chorus.start <= n.onset < chorus.end:
                dur = min(n.duration, chorus.end - n.onset)
                out.append(n._replace(onset=n.onset - chorus.start, duration=dur))
        return out

    def chorus_chart(self, chorus):
        """The chorus's changes as a Chart, one bar per bar; `str(chart)` is chart text
        for `jazzd generate --chords`."""
        bars = []
        first = chorus.start // TPQ
        for b in range(chorus.bars):
            bar = []
            for k in range(BEATS_PER_BAR):
                c = self.beat_chords[first + b * BEATS_PER_BAR + k]
                if not bar or bar[-1][1] != c:
                    bar.append((k * TPQ, c))
            bars.append(bar)
        return Chart(bars, BEATS_PER_BAR)

    def __repr__(self):
        return (f"<Solo {self.name}: {self.performer}, {len(self.notes)} notes, "
                f"{self.n_bars} bars, {len(self.choruses)} choruses>")


class Report:
    """What reading the corpus did: counts, movements, skipped solos and why."""

    def __init__(self):
        self.count = Counter()               # events, see format_report
        self.moves = defaultdict(Counter)    # rule -> Counter(ticks moved, exact Fraction)
        self.divisions = defaultdict(Counter)  # division -> Counter(rule)
        self.skipped = []                    # [(solo name, reason)]
        self.bad_chords = Counter()          # unreadable symbol -> notes on it
        self.bad_chord_beats = Counter()     # unreadable symbol -> beats on it
        self.simplified = {}                 # symbol -> (lead-sheet text, dropped tensions)
        self.simplified_notes = Counter()    # symbol -> notes on it
        self.symbols = set()                 # distinct symbols seen in read solos
        self.seconds = 0.0


def tempo_of(beat_onsets):
    """The tempo in bpm of a beat track's onsets (seconds): 60 over the median
    inter-beat interval, which a ritardando or a fermata at the end does not move."""
    d = np.diff(np.asarray(beat_onsets, float))
    d = d[d > 0]
    return float(60.0 / np.median(d)) if len(d) else None
