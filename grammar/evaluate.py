"""The musical rails (docs/MUSIC.md), computed from a performance: pure statistics.

A performance is a list of notes `(onset, duration, pitch)` with onset and duration in
beats *as played* (floats, swung), plus the chord changes `(tick, Chord)` in straight
ticks from the start. Onsets are put back on the straight grid with
`jazzd.grammar.swing.unswung_ticks` before anything is measured, so swing never counts as
"off the grid" and chord lookups and inter-onset intervals use musical time.

Every note is classified against the chord sounding at its onset:

- C: a chord tone;
- S: a chord-scale tone that is not a chord tone;
- A: an approach: neither C nor S, moving by 1 or 2 semitones to the next note, which
  is a chord tone of *its* chord (so an approach into a chord change counts);
- X: anything else.

The bars are data (`BARS`), with the human reference figures beside them, so the CLI,
the tests and docs/MUSIC.md all print the same table. The human band joins two sources
(p10-p90 of notated transcriptions and of performed choruses of held-out Weimar Jazz
Database players, where they differ the figures show both): performed solos have busier
rhythm (inter-onset entropy up to 3.15 bits, notes per beat up to 2.23) than notated ones.
"""

import bisect
import math
from collections import Counter
from typing import NamedTuple

from jazzd.grammar.meter import strong_beats
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.swing import unswung_ticks

GRID_TOLERANCE = 0.1   # ticks (1/120 beat, 4 ms at 120 bpm): a recorded onset this close to the grid is on it
OVERLAP_TOLERANCE = 1e-3  # beats: MIDI rounding is not an overlap


class Bar(NamedTuple):
    """One musical bar: the band we must land in, and the human reference beside it."""
    name: str
    label: str
    lo: float | None      # None: no lower bound
    hi: float | None      # None: no upper bound
    human: str            # p10 / median / p90 over 141 transcribed choruses (docs/MUSIC.md)


BARS = (
    Bar("strong_chord", "chord tones among notes on beats 1 and 3", 0.41, 0.85,
        "0.41 / 0.61 / 0.79"),
    Bar("chord", "chord tones among all notes", 0.41, 0.75, "0.41 / 0.55 / 0.73"),
    Bar("scale", "scale tones among all notes", 0.15, None, "0.19 / 0.27 / 0.34"),
    Bar("outside", "outside (X)", 0.02, 0.19, "0.02 / 0.09 / 0.19"),
    Bar("change_fit", "first note after a chord change is C or S", 0.62, None,
        "0.63-0.67 / 0.82-0.86 / 0.94-1.00"),
    Bar("pc_entropy", "pitch-class entropy (bits)", 3.05, None,
        "3.07-3.13 / 3.35-3.38 / 3.49-3.50"),
    Bar("ioi_entropy", "inter-onset-interval entropy, 1/12-beat grid (bits)", 1.0, 3.15,
        "notated 1.05 / 1.79 / 2.30; performed 2.07 / 2.64 / 3.15"),
    Bar("repeat3", "the same pitch three times in a row", None, 0.04,
        "0 / 0 / 0.012-0.041"),
    Bar("leaps", "leaps over an octave", None, 0.02, "0 / 0 / 0.015"),
    Bar("notes_per_beat", "notes per beat", 1.0, 2.25, "1.04-1.08 / 1.49-1.50 / 1.85-2.23"),
    Bar("out_of_register", "notes outside the register", None, 0, "0"),
    Bar("overlaps", "overlapping notes", None, 0, "0"),
    Bar("off_grid", "onsets off the (swung) grid", None, 0, "0"),
)
BAR_BY_NAME = {b.name: b for b in BARS}


def entropy(counts):
    """Shannon entropy in bits of a Counter (or any iterable of counts)."""
    values = list(counts.values()) if hasattr(counts, "values") else list(counts)
    total = sum(values)
    if total <= 0:
        return 0.0
    return 0.0 - sum(c / total * math.log2(c / total) for c in values if c > 0)


class _Timeline:
    """Chord lookup by straight tick over sorted (tick, Chord) changes."""

    def __init__(self, changes):
        changes = sorted(changes, key=lambda tc: tc[0])
        self.ticks = [t for t, _ in changes]
        self.chords = [c for _, c in changes]

    def index_at(self, tick):
        return bisect.bisect_right(self.ticks, tick) - 1

    def at(self, tick):
        i = self.index_at(tick)
        return self.chords[i] if i >= 0 else None


def classify_tone(pitch, chord):
    """C, S or None (neither) for one pitch against one chord; None for no chord."""
    if not chord:
        return None
    bit = 1 << (pitch % 12)
    if chord.tones & bit:
        return "C"
    if chord.scale & bit:
        return "S"
    return None


def classify_notes(pitches, chords):
    """Kinds C/S/A/X of a monophonic line, each against its own chord; '-' where the
    chord is missing (N.C. or before the first change), which the shares leave out."""
    n = len(pitches)
    base = [classify_tone(p, c) if c else "-" for p, c in zip(pitches, chords)]
    kinds = []
    for i in range(n):
        k = base[i]
        if k is None:
            nxt = i + 1
            if nxt < n and base[nxt] == "C" and 1 <= abs(pitches[nxt] - pitches[i]) <= 2:
                k = "A"
            else:
                k = "X"
        kinds.append(k)
    return kinds


def _share(num, den):
    return num / den if den else float("nan")


def _prepare(notes, changes, swing):
    notes = sorted((float(o), float(d), int(p)) for o, d, p in notes)
    timeline = _Timeline(changes)
    straight = [unswung_ticks(o, swing) for o, _, _ in notes]
    grid = [round(t) for t in straight]
    kinds = classify_notes([p for _, _, p in notes], [timeline.at(g) for g in grid])
    return notes, straight, grid, kinds, timeline


def annotate(notes, changes, swing=0.5):
    """The notes sorted by onset, each with its kind: [(onset, duration, pitch, kind)]
    (kind '-' when no chord sounds), e.g. to colour a piano roll."""
    notes, _, _, kinds, _ = _prepare(notes, changes, swing)
    return [n + (k,) for n, k in zip(notes, kinds)]


def evaluate(notes, changes, beats_per_bar=4, swing=0.5, low=None, high=None,
             span_beats=None, grid_tolerance=GRID_TOLERANCE):
    """All statistics of the musical rails for one performance.

    notes: iterable of (onset_beats, duration_beats, pitch), any order;
    changes: (tick, Chord) chord changes in straight ticks from the start;
    swing: the swing the performance was played with (0.5 = straight);
    low, high: the register (None = not checked);
    span_beats: the length of the performance in beats (default: the end of the last
    note, rounded up to a whole bar), the denominator of notes per beat.
    Returns a dict: one entry per name in BARS, plus counts and the kind shares.
    """
    notes, straight, grid, kinds, timeline = _prepare(notes, changes, swing)
    bar_ticks = beats_per_bar * TPQ
    strong = strong_beats(beats_per_bar)
    off_grid = sum(1 for t, g in zip(straight, grid) if abs(t - g) > grid_tolerance)
    pitches = [p for _, _, p in notes]
    classified = [k for k in kinds if k != "-"]
    kc = Counter(classified)
    n_cls = len(classified)

    strong_kinds = [k for k, g in zip(kinds, grid)
                    if k != "-" and g % TPQ == 0 and (g % bar_ticks) // TPQ in strong]

    # the first note after each chord change (a change = a different chord symbol)
    fits = []
    for ci in range(1, len(timeline.ticks)):
        prev, cur = timeline.chords[ci - 1], timeline.chords[ci]
        if not cur or (prev and prev.symbol == cur.symbol):
            continue
        start = timeline.ticks[ci]
        end = timeline.ticks[ci + 1] if ci + 1 < len(timeline.ticks) else math.inf
        j = bisect.bisect_left(grid, start)
        if j < len(grid) and grid[j] < end:
            fits.append(kinds[j] in ("C", "S"))

    iois = Counter()
    for a, b in zip(grid, grid[1:]):
        iois[min(b - a, bar_ticks)] += 1

    repeats = sum(1 for i in range(2, len(pitches))
                  if pitches[i] == pitches[i - 1] == pitches[i - 2])
    leaps = sum(1 for a, b in zip(pitches, pitches[1:]) if abs(b - a) > 12)
    overlaps = sum(1 for (o1, d1, _), (o2, _, _) in zip(notes, notes[1:])
                   if o1 + d1 > o2 + OVERLAP_TOLERANCE)
    out_reg = sum(1 for p in pitches
                  if (low is not None and p < low) or (high is not None and p > high))
    if span_beats is None:
        end = max((o + d for o, d, _ in notes), default=0.0)
        span_beats = max(1, math.ceil(end / beats_per_bar - 1e-9)) * beats_per_bar

    n = len(notes)
    return {
        "notes": n,
        "beats": span_beats,
        "kinds": {k: _share(kc[k], n_cls) for k in "CSAX"},
        "unclassified": n - n_cls,
        "strong_notes": len(strong_kinds),
        "changes_with_a_note": len(fits),
        "strong_chord": _share(sum(1 for k in strong_kinds if k == "C"), len(strong_kinds)),
        "chord": _share(kc["C"], n_cls),
        "scale": _share(kc["S"], n_cls),
        "outside": _share(kc["X"], n_cls),
        "change_fit": _share(sum(fits), len(fits)),
        "pc_entropy": entropy(Counter(p % 12 for p in pitches)),
        "ioi_entropy": entropy(iois),
        "repeat3": _share(repeats, n),
        "leaps": _share(leaps, n - 1),
        "notes_per_beat": _share(n, span_beats),
        "out_of_register": out_reg,
        "overlaps": overlaps,
        "off_grid": off_grid,
    }


def check(stats):
    """[(bar, value, ok)] for every bar of BARS; a NaN share (nothing to measure) fails."""
    out = []
    for bar in BARS:
        v = stats[bar.name]
        ok = not (isinstance(v, float) and math.isnan(v))
        if ok and bar.lo is not None:
            ok = v >= bar.lo - 1e-12
        if ok and bar.hi is not None:
            ok = v <= bar.hi + 1e-12
        out.append((bar.name, v, bar, ok))
    return out


def band(bar):
    """The bar's band as text: "0.60 – 0.90", "≥ 0.15", "≤ 0.12", "0"."""
    def f(x):
        return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"
    if bar.lo is not None and bar.hi is not None:
        return f"{f(bar.lo)} – {f(bar.hi)}"
    if bar.lo is not None:
        return f"≥ {f(bar.lo)}"
    if bar.hi == 0:
        return "0"
    return f"≤ {f(bar.hi)}"


def format_value(x):
    if isinstance(x, float):
        return "n/a" if math.isnan(x) else f"{x:.3f}"
    return str(x)


def mean_stats(all_stats):
    """Average each bar over several performances (NaNs left out), for tuning reports."""
    out = {}
    for bar in BARS:
        vals = [s[bar.name] for s in all_stats
                if not (isinstance(s[bar.name], float) and math.isnan(s[bar.name]))]
        out[bar.name] = sum(vals) / len(vals) if vals else float("nan")
    return out
