"""The style gap's feature vector of one chorus (docs/MUSIC.md, "The style gap").

A chorus is its notes `(onset, duration, pitch)`, onset and duration in beats from the
chorus start on the *straight* grid (swing taken out: the reader writes swung pairs as
eighths, `jazzd generate` is run with swing 0.5), plus its chord changes `(tick,
Chord)` in ticks from the chorus start, and its length in beats. Human and generated
choruses go through the same function.

A duration is how long the note sounds: up to the next onset, or less when a rest
follows (the reader's rest rule, the generator's R values). Gate and articulation play
no part: a rest is a silence of any length between one note's end and the next onset.

The rhythm features do not depend on how a transcriber notated swing or tuplets:
onsets per beat, onsets on the beat, notes of a beat or longer, anticipations,
breaks. There is no inter-onset histogram on the 1/12 grid and no position-in-beat
histogram: those would measure notation (a triplet-notated swing pair against a
straight one) instead of music.

Every feature is defined for any chorus with at least one note (a share with nothing
to count falls back as each docstring line says), so a classifier never sees NaN.
"""

import math
from bisect import bisect_left
from collections import Counter
from fractions import Fraction

from jazzd.grammar.evaluate import classify_notes, entropy
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.timeline import ChordTimeline

BREAK_TICKS = 18                      # a silence of 1.5 beats or more separates phrases
INTERVAL_BINS = ((0, 0), (1, 1), (2, 2), (3, 4), (5, 7), (8, 12), (13, 127))
MOTIF_N = 4                           # interval n-grams for the motif feature

FEATURES = (
    # harmony
    ("kind_C", "chord tones (C) among classified notes"),
    ("kind_S", "chord-scale tones (S)"),
    ("kind_A", "approach tones (A): non-C/S moving <= 2 semitones to the next note, a C"),
    ("kind_X", "outside tones (X)"),
    ("strong_chord", "chord tones among notes on beats 1 and 3 (kind_C if none there)"),
    ("change_fit", "first note after a chord change is C or S (C+S share if no change is hit)"),
    ("pc_entropy", "pitch-class entropy, bits"),
    # intervals, between consecutive notes
    ("int_0", "repeated pitch"),
    ("int_1", "intervals of 1 semitone"),
    ("int_2", "intervals of 2 semitones"),
    ("int_3_4", "intervals of 3-4 semitones"),
    ("int_5_7", "intervals of 5-7 semitones"),
    ("int_8_12", "intervals of 8-12 semitones"),
    ("int_13_up", "intervals over an octave"),
    ("rising", "rising steps among the moving ones"),
    ("turns", "contour turns: direction changes per pair of moving steps"),
    ("mean_abs_interval", "mean absolute interval, semitones"),
    ("repeat3", "the same pitch three times in a row, per note"),
    # rhythm, independent of swing notation
    ("beats_0", "beats with no onset"),
    ("beats_1", "beats with 1 onset"),
    ("beats_2", "beats with 2 onsets"),
    ("beats_3", "beats with 3 onsets"),
    ("beats_4up", "beats with 4 onsets or more"),
    ("beat_entropy", "entropy of the onsets-per-beat counts (0, 1, 2, 3, 4+), bits"),
    ("on_beat", "onsets on a beat"),
    ("long_notes", "notes with the next onset a beat or more later"),
    ("anticipations", "onsets in the last eighth before a beat with no onset, per note"),
    ("syncopated_long", "notes starting off the beat and sounding across the next beat"),
    ("density_cv", "coefficient of variation of the onsets per bar"),
    # phrasing
    ("breaks_per_8_bars", "silences of 1.5 beats or more between notes, per 8 bars"),
    ("phrase_notes", "mean notes per phrase (phrases split at breaks)"),
    ("phrase_beats", "mean phrase length in beats, first onset to last note's end"),
    ("rest_share", "share of the chorus without a sounding note"),
    # motifs, range, density
    ("motif_share", "interval 4-grams that recur within the chorus"),
    ("range", "highest minus lowest pitch, semitones"),
    ("notes_per_beat", "notes per beat"),
)
NAMES = tuple(name for name, _ in FEATURES)


def _ticks(x, what):
    """Exact ticks of a position in beats on the 1/12 grid (int, Fraction or float)."""
    t = Fraction(x) * TPQ
    n = round(t)
    if abs(t - n) > Fraction(1, 10 ** 6):
        raise ValueError(f"{what} {x!r} beats is not on the 1/12-beat grid")
    return int(n)


def _share(num, den, fallback):
    return num / den if den else fallback


def _timeline(changes):
    if isinstance(changes, ChordTimeline):
        return changes
    return ChordTimeline(sorted(changes, key=lambda tc: tc[0]))


def prepare(notes, n_beats):
    """[(onset_tick, duration_tick, pitch)] sorted, one note per onset (the highest),
    each cut at the next onset and at the chorus end; notes past the end dropped."""
    end = n_beats * TPQ
    by_onset = {}
    for i, (o, d, p) in enumerate(notes):
        on, dur = _ticks(o, f"note #{i} onset"), _ticks(d, f"note #{i} duration")
        if dur <= 0 or on < 0:
            raise ValueError(f"note #{i} {(o, d, p)!r}: negative onset or duration not positive")
        if on < end and (on not in by_onset or p > by_onset[on][2]):
            by_onset[on] = (on, dur, int(p))
    out = [by_onset[k] for k in sorted(by_onset)]
    return [(on, min(dur, (out[i + 1][0] if i + 1 < len(out) else end) - on), p)
            for i, (on, dur, p) in enumerate(out)]


def features(notes, changes, n_beats, beats_per_bar=4):
    """The feature dict (keys NAMES, floats) of one chorus.

    notes: (onset_beats, duration_beats, pitch) from the chorus start, straight grid;
    changes: (tick, Chord) from the chorus start, or a ChordTimeline;
    n_beats: the chorus length in beats. Raises ValueError for a chorus without notes.
    """
    if isinstance(n_beats, bool) or not isinstance(n_beats, int) or n_beats < 1:
        raise ValueError(f"chorus length must be a positive int of beats, got {n_beats!r}")
    ns = prepare(notes, n_beats)
    if not ns:
        raise ValueError("a chorus without notes has no style features")
    f = _harmony(ns, _timeline(changes), n_beats, beats_per_bar)
    f.update(_intervals(ns))
    f.update(_rhythm(ns, n_beats, beats_per_bar))
    f.update(_phrasing(ns, n_beats, beats_per_bar))
    f.update(_motifs_range_density(ns, n_beats))
    return {name: float(f[name]) for name in NAMES}


def _harmony(ns, timeline, n_beats, beats_per_bar):
    """kind_C..kind_X, strong_chord, change_fit and pc_entropy of the prepared notes."""
    onsets = [o for o, _, _ in ns]
    pitches = [p for _, _, p in ns]
    kinds = classify_notes(pitches, [timeline.at(o) for o in onsets])
    kc = Counter(k for k in kinds if k != "-")
    n_cls = sum(kc.values())
    f = {"kind_" + k: _share(kc[k], n_cls, 0.0) for k in "CSAX"}
    bar_ticks = beats_per_bar * TPQ
    strong = [k for k, o in zip(kinds, onsets)
              if k != "-" and o % TPQ == 0 and (o % bar_ticks) // TPQ in (0, beats_per_bar // 2)]
    f["strong_chord"] = _share(sum(k == "C" for k in strong), len(strong), f["kind_C"])
    fits = _change_fits(list(timeline), onsets, kinds, n_beats * TPQ)
    f["change_fit"] = _share(sum(fits), len(fits), f["kind_C"] + f["kind_S"])
    f["pc_entropy"] = entropy(Counter(p % 12 for p in pitches))
    return f


def _change_fits(changes, onsets, kinds, end):
    """For each change to a new chord with a note before the next change: whether its
    first note is C or S."""
    fits = []
    for i in range(1, len(changes)):
        (_, prev), (t, cur) = changes[i - 1], changes[i]
        if not cur or prev == cur:
            continue
        stop = changes[i + 1][0] if i + 1 < len(changes) else end
        j = bisect_left(onsets, t)
        if j < len(onsets) and onsets[j] < stop:
            fits.append(kinds[j] in ("C", "S"))
    return fits


def _intervals(ns):
    """The interval bins, rising, turns, mean_abs_interval and repeat3."""
    pitches = [p for _, _, p in ns]
    n = len(pitches)
    steps = [b - a for a, b in zip(pitches, pitches[1:])]
    f = {}
    for lo, hi in INTERVAL_BINS:
        name = f"int_{lo}" if lo == hi else ("int_13_up" if hi > 12 else f"int_{lo}_{hi}")
        f[name] = _share(sum(lo <= abs(s) <= hi for s in steps), len(steps), 0.0)
    moving = [s for s in steps if s]
    f["rising"] = _share(sum(s > 0 for s in moving), len(moving), 0.5)
    turns = sum((a > 0) != (b > 0) for a, b in zip(moving, moving[1:]))
    f["turns"] = _share(turns, len(moving) - 1, 0.0)
    f["mean_abs_interval"] = _share(sum(abs(s) for s in steps), len(steps), 0.0)
    f["repeat3"] = sum(pitches[i] == pitches[i - 1] == pitches[i - 2] for i in range(2, n)) / n
    return f


def _rhythm(ns, n_beats, beats_per_bar):
    """Onsets per beat, on_beat, long_notes, anticipations, syncopated_long, density_cv."""
    onsets = [o for o, _, _ in ns]
    n = len(ns)
    per_beat = Counter(o // TPQ for o in onsets)
    dist = Counter(min(per_beat.get(b, 0), 4) for b in range(n_beats))
    f = {f"beats_{k}": dist[k] / n_beats for k in range(4)}
    f["beats_4up"] = dist[4] / n_beats
    f["beat_entropy"] = entropy(dist)
    f["on_beat"] = sum(o % TPQ == 0 for o in onsets) / n
    iois = [b - a for a, b in zip(onsets, onsets[1:])] + [ns[-1][1]]
    f["long_notes"] = sum(i >= TPQ for i in iois) / n
    f["anticipations"] = _anticipations(onsets, n_beats) / n
    f["syncopated_long"] = sum(1 for o, d, _ in ns
                               if o % TPQ and o + d > (o // TPQ + 1) * TPQ) / n
    f["density_cv"] = _density_cv(onsets, n_beats, beats_per_bar)
    return f


def _anticipations(onsets, n_beats):
    """How many beats after the first have no onset but one in the eighth before them."""
    onset_set = set(onsets)
    antic = 0
    for b in range(1, n_beats):
        t = b * TPQ
        j = bisect_left(onsets, t - TPQ // 2)
        if t not in onset_set and j < len(onsets) and onsets[j] < t:
            antic += 1
    return antic


def _density_cv(onsets, n_beats, beats_per_bar):
    """Coefficient of variation of the onsets per bar (0 for a chorus without onsets)."""
    bars = max(1, n_beats // beats_per_bar)
    per_bar = Counter(o // (beats_per_bar * TPQ) for o in onsets)
    counts = [per_bar.get(b, 0) for b in range(bars)]
    mean = sum(counts) / bars
    sd = math.sqrt(sum((c - mean) ** 2 for c in counts) / bars)
    return sd / mean if mean else 0.0


def _phrasing(ns, n_beats, beats_per_bar):
    """breaks_per_8_bars, phrase_notes, phrase_beats and rest_share; phrases split at
    silences of BREAK_TICKS or more."""
    n = len(ns)
    gaps = [ns[i + 1][0] - (ns[i][0] + ns[i][1]) for i in range(n - 1)]
    breaks = [i for i, g in enumerate(gaps) if g >= BREAK_TICKS]
    bounds = [-1] + breaks + [n - 1]
    phrases = [(bounds[k] + 1, bounds[k + 1]) for k in range(len(bounds) - 1)]
    return {
        "breaks_per_8_bars": len(breaks) * 8 * beats_per_bar / n_beats,
        "phrase_notes": sum(b - a + 1 for a, b in phrases) / len(phrases),
        "phrase_beats": sum(ns[b][0] + ns[b][1] - ns[a][0] for a, b in phrases)
        / len(phrases) / TPQ,
        "rest_share": 1.0 - sum(d for _, d, _ in ns) / (n_beats * TPQ),
    }


def _motifs_range_density(ns, n_beats):
    """motif_share (recurring interval MOTIF_N-grams), range and notes_per_beat."""
    pitches = [p for _, _, p in ns]
    steps = [b - a for a, b in zip(pitches, pitches[1:])]
    grams = Counter(tuple(steps[i:i + MOTIF_N]) for i in range(len(steps) - MOTIF_N + 1))
    total = sum(grams.values())
    return {
        "motif_share": _share(sum(c for c in grams.values() if c > 1), total, 0.0),
        "range": float(max(pitches) - min(pitches)),
        "notes_per_beat": len(ns) / n_beats,
    }


def vector(notes, changes, n_beats, beats_per_bar=4):
    """The features as a list of floats in the order of NAMES."""
    f = features(notes, changes, n_beats, beats_per_bar)
    return [f[name] for name in NAMES]
