"""Chord charts as people type them: "Dm7 G7 | Cmaj7 | % |".

The rules:

- `|` separates bars; so does a line break. Empty bars vanish, so "||", a leading
  "|" and "| |" are just bar lines.
- The chords of a bar share it. With n chords for b beats (n <= b), each chord gets
  b // n beats and the first b % n chords one beat more: 1, 2 or 4 chords split 4/4
  evenly, 3 chords give 2 + 1 + 1. More chords than beats split the bar into equal
  ticks when they can (8 chords in 4/4 are eighths), else it is an error.
- `%` alone in a bar repeats the previous bar. `/` or `.` repeats the previous
  chord for one slot (so "C / / G7" is three beats of C and one of G7); a chord
  held on over slots is one entry, not a restrike.
- `N.C.` is no chord. A parenthesised alternative means the first chord: one that
  stands apart, "Dm7 G7 (Em7 A7)", is dropped; one glued to a chord, "Dmaj7(Em7b5)",
  goes to `parse_symbol` with it.
- An error names the bar and the token: "bar 3: unknown chord symbol 'Hmaj7'".
"""

import re

from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import ChordSymbolError
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.timeline import ChordTimeline

_REPEAT_CHORD = ("/", ".")
_REPEAT_BAR = "%"
_ALTERNATIVE = re.compile(r"(?:^|(?<=[\s|]))\([^()|]*\)", re.M)


class ChartError(ValueError):
    """A chord chart that cannot be read; the message names the bar and the token."""


class Chart:
    """Bars of `(tick_in_bar, Chord)`, each bar `bar_ticks` long."""

    def __init__(self, bars, beats_per_bar=4):
        self.bars = bars
        self.beats_per_bar = beats_per_bar
        self.bar_ticks = beats_per_bar * TPQ

    @property
    def symbols(self):
        """The chord symbols of each bar, for printing."""
        return [[c.symbol for _, c in bar] for bar in self.bars]

    def timeline(self, n_bars):
        """A ChordTimeline of `n_bars` bars, looping the chart as often as needed."""
        if isinstance(n_bars, bool) or not isinstance(n_bars, int) or n_bars < 1:
            raise ValueError(f"number of bars must be a positive int, got {n_bars!r}")
        changes = []
        for i in range(n_bars):
            base = i * self.bar_ticks
            changes.extend((base + t, c) for t, c in self.bars[i % len(self.bars)])
        return ChordTimeline(changes, length=n_bars * self.bar_ticks)

    def __len__(self):
        return len(self.bars)

    def __str__(self):
        """The chart as text that `parse_chart` reads back to the same bars."""
        return " | ".join(self._bar_text(bar) for bar in self.bars) + " |"

    def _bar_text(self, bar):
        names = [c.symbol for _, c in bar]
        offsets = [t for t, _ in bar]
        try:
            if offsets == _slot_ticks(len(bar), self.beats_per_bar, 0):
                return " ".join(names)
        except ChartError:
            pass
        slots = []       # one token a beat, "/" for a held chord
        for beat in range(self.beats_per_bar):
            here = [c.symbol for t, c in bar if t == beat * TPQ]
            slots.append(here[0] if here else "/")
        return " ".join(slots)

    def __repr__(self):
        return f"Chart({str(self)!r}, beats_per_bar={self.beats_per_bar})"


def _slot_ticks(n, beats, bar_no):
    """Tick offsets of n equal-ish slots in a bar of `beats` beats."""
    if n <= beats:
        share, extra = divmod(beats, n)
        offsets, t = [], 0
        for i in range(n):
            offsets.append(t * TPQ)
            t += share + (1 if i < extra else 0)
        return offsets
    if (beats * TPQ) % n:
        raise ChartError(f"bar {bar_no}: {n} chords do not split a bar of {beats} beats evenly")
    return [i * beats * TPQ // n for i in range(n)]


def _tokens(text):
    """Bars as lists of raw tokens (parenthesised alternatives dropped)."""
    # "Dm7 G7 (Em7 A7)": an alternative standing apart from the chord is dropped here;
    # one glued to it, "Dmaj7(Em7b5)" or "C7(b9)", is parse_symbol's to read.
    text = _ALTERNATIVE.sub(" ", text)
    bars = []
    for line in text.splitlines():
        for chunk in line.split("|"):
            toks = chunk.split()
            if toks:
                bars.append(toks)
    return bars


def parse_chart(text, beats_per_bar=4):
    """Read a chord chart (see the module docstring). Raises ChartError (a ValueError)."""
    if not isinstance(text, str):
        raise ChartError(f"a chord chart must be text, got {text!r}")
    if isinstance(beats_per_bar, bool) or not isinstance(beats_per_bar, int) or beats_per_bar < 1:
        raise ChartError(f"beats per bar must be a positive int, got {beats_per_bar!r}")
    raw = _tokens(text)
    if not raw:
        raise ChartError("empty chord chart: no chords between the bar lines")
    bars = []
    prev_chord = None
    for bar_no, toks in enumerate(raw, 1):
        if _REPEAT_BAR in toks:
            if toks != [_REPEAT_BAR]:
                raise ChartError(f"bar {bar_no}: '%' repeats a whole bar and must stand alone")
            if not bars:
                raise ChartError(f"bar {bar_no}: '%' repeats the previous bar, but there is none")
            bars.append(list(bars[-1]))
            continue
        chords = []
        for tok in toks:
            if tok in _REPEAT_CHORD:
                if prev_chord is None:
                    raise ChartError(f"bar {bar_no}: {tok!r} repeats the previous chord, "
                                     f"but there is none")
                chords.append(prev_chord)
                continue
            try:
                prev_chord = parse_symbol(tok)
            except ChordSymbolError as e:
                raise ChartError(f"bar {bar_no}: unknown chord symbol {tok!r}") from e
            chords.append(prev_chord)
        offsets = _slot_ticks(len(chords), beats_per_bar, bar_no)
        bar = []
        for t, c in zip(offsets, chords):
            if not bar or bar[-1][1] != c:
                bar.append((t, c))
        bars.append(bar)
        prev_chord = bars[-1][-1][1]
    return Chart(bars, beats_per_bar)
