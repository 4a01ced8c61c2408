"""Which chord sounds when: a sorted list of chord changes, looked up by bisection.

The parser asks "what chord is sounding at this onset?" once per note, and the
evaluator once per played note, so `.at` is a bisect over a plain list of ints.
"""

from bisect import bisect_left, bisect_right

from jazzd.grammar.chords import NO_CHORD, Chord


class ChordTimeline:
    """Chord changes `(tick, Chord)`; a chord lasts until the next change.

    Before the first change nothing sounds (`NO_CHORD`). `length` (ticks, optional)
    says where the piece ends; `.at` past it still returns the last chord.
    Entries are kept as given (a chord repeated in the next bar stays an entry, so a
    chord track can restrike it); input order does not matter, duplicate ticks do.
    """

    __slots__ = ("ticks", "chords", "length")

    def __init__(self, changes=(), length=None):
        entries = []
        for i, item in enumerate(changes):
            try:
                tick, chord = item
            except (TypeError, ValueError):
                raise ValueError(f"chord change #{i}: expected (tick, Chord), got {item!r}") from None
            if isinstance(tick, bool) or not isinstance(tick, int) or tick < 0:
                raise ValueError(f"chord change #{i}: tick must be an int >= 0, got {tick!r}")
            if not isinstance(chord, Chord):
                raise ValueError(f"chord change #{i} at tick {tick}: not a Chord: {chord!r}")
            entries.append((tick, chord))
        entries.sort(key=lambda e: e[0])
        for (t0, c0), (t1, c1) in zip(entries, entries[1:]):
            if t0 == t1:
                raise ValueError(f"two chords at tick {t0}: {c0.symbol} and {c1.symbol}")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
                raise ValueError(f"timeline length must be a positive int of ticks, got {length!r}")
            if entries and entries[-1][0] >= length:
                raise ValueError(f"chord change at tick {entries[-1][0]} is at or past the "
                                 f"end of the timeline ({length} ticks)")
        self.ticks = [t for t, _ in entries]
        self.chords = [c for _, c in entries]
        self.length = length

    def at(self, tick):
        """The chord sounding at `tick` (NO_CHORD before the first change)."""
        i = bisect_right(self.ticks, tick) - 1
        return self.chords[i] if i >= 0 else NO_CHORD

    def changes_between(self, a, b):
        """The changes `(tick, Chord)` with a <= tick < b."""
        i, j = bisect_left(self.ticks, a), bisect_left(self.ticks, b)
        return list(zip(self.ticks[i:j], self.chords[i:j]))

    def __iter__(self):
        return iter(zip(self.ticks, self.chords))

    def __len__(self):
        return len(self.ticks)

    def __repr__(self):
        body = ", ".join(f"({t}, {c.symbol})" for t, c in self)
        return f"ChordTimeline([{body}], length={self.length})"
