"""The Weimar Jazz Database's notation, read onto our grid: chord symbols and onsets.

Pure functions, no I/O: `daemon/train/wjazzd_tables.py` reads the CSV files and calls these.

Chord symbols (Jazzomat syntax): root, quality, then tensions written as numbers with
their alteration *after* them (`C79b` = C7b9, `Ebj7911#` = Ebmaj9#11, `Csus7913` =
C13sus4), `/BASS`, `NC`. `read_chord` rewrites a symbol into the lead-sheet spelling
`jazzd.grammar.chord_symbols.parse_symbol` reads and parses that. A chord our quality
table does not have (`G-79b`, m7b9) loses as few tensions as it must (the last ones
first) to parse, and the reading says which were dropped: the chord tones and scale stay
those of the chord the tensions decorate.

Onsets: a note's place in its beat is `(tatum - 1) / division`. `quantize_beat` puts
the onsets of one beat on the grid of sixteenths, eighth triplets and sixteenth
triplets (`GRID`, ticks in a 12-tick beat: 0 2 3 4 6 8 9 10). Sixteenth triplets
(division 6, 9 % of the corpus's notes, the fast runs) are exact ticks: leaving 2 and
10 out would drop or bunch a third of their notes (measured: 6463 notes dropped
instead of 2116, or 5 % of all onset gaps one tick long):

- swing: a beat whose onsets are exactly {0, 2/3} or {2/3} is a swung pair of eighths
  notated in triplets; its 2/3 onset becomes the straight eighth (tick 6). So swing is
  one rhythm in the corpus, however the transcriber wrote it (the daemon swings on
  output, `jazzd.grammar.swing`). Not inside a triplet passage: when the beat before or
  after holds a real triplet (an onset at 1/3), the 2/3 onset stays a triplet (rule
  "triplet");
- exact: every other onset already on the grid stays (real triplets 0/4/8 with a note
  at 1/3, sixteenths 0/3/6/9, sixteenth triplets 0/2/4/6/8/10, eighths);
- tuplet: beats with any onset off the grid (quintuplets, septuplets, 32nds, ...)
  are assigned, in order, to distinct grid points (and the next
  beat's downbeat when nothing starts there) with the least total movement, where
  dropping a note costs `DROP_TICKS` of movement: a note is dropped (its sound merged
  into the note before) rather than pushing notes a sixteenth or more off their
  places. Two onsets of a tuplet beat land `MIN_TUPLET_IOI` ticks apart or more: the
  mixed grid has points one tick apart (3/4, 8/9), and a quintuplet put on 0 3 4 8 9
  would teach the model 1-tick notes, flams no player plays. A 32nd-note run cannot be
  notated on this grid; the drops are counted.

Durations are onset to onset (GRAMMAR.md). A note's performed length only decides
whether a rest follows it: `rest_after` (the silence lasts `REST_GAP_BEATS` of the
local beat or more), and `end_tick` puts the end of the sound on the grid.
"""

import math
import re
from functools import lru_cache
from itertools import combinations
from fractions import Fraction
from typing import NamedTuple

from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD, ChordSymbolError
from jazzd.grammar.pitch import TPQ

GRID = (0, 2, 3, 4, 6, 8, 9, 10)  # onset ticks in a beat: 16ths, 8th and 16th triplets
REST_GAP_BEATS = 0.5           # a silence this long (in beats) after a note is a rest
_SWING = frozenset({Fraction(0), Fraction(2, 3)})
DROP_TICKS = 3                 # dropping a tuplet note costs as much as moving notes a sixteenth
MIN_TUPLET_IOI = 2             # ticks: a tuplet run never becomes a 1/48-note flam

# ---- chord symbols ----------------------------------------------------------------

_SYMBOL_RE = re.compile(r"^([A-G][#b]?)(.*?)(/[A-G][#b]?)?$")
_QUALITY_RE = re.compile(
    r"^(?P<tri>m7b5|-|\+|o|sus)?(?P<six>69|6)?(?P<sev>j7|7)?"
    r"(?P<ten>(?:(?:9|11|13)[#b]?)*)(?P<alt>alt)?$")
_TENSION_RE = re.compile(r"(9|11|13)([#b]?)")


class ChordReading(NamedTuple):
    """What `read_chord` made of a Jazzomat symbol."""

    chord: object            # jazzd.grammar.chords.Chord (NO_CHORD for "NC")
    text: str                # the lead-sheet symbol that was parsed, e.g. "Cmaj9#11"
    dropped: tuple           # tensions left out to reach a known quality, e.g. ("b9",)


def _lead_sheet(tri, six, sev, tensions, alt):
    """The quality in parse_symbol's spelling, from the Jazzomat parts."""
    naturals = [n for n, acc in tensions if not acc]
    alts = "".join(acc + n for n, acc in tensions if acc)
    if alt:
        return "7alt"
    if tri == "m7b5":
        return "m9b5" if "9" in naturals else "m7b5"
    if tri == "o":
        return "dim7" if sev else "dim"
    if six:
        return ("m" if tri == "-" else "") + six + alts
    if not sev:
        base = {"-": "m", "+": "+", "sus": "sus4"}.get(tri, "")
        return base + "".join(naturals) + alts    # tensions without a 7th: no such chord
    ext = max(naturals, key=int) if naturals else "7"
    if ext == "9" and any(n == "9" for n, acc in tensions if acc):
        ext = "7"                                  # b9/#9 replace the 9
    if sev == "j7":
        return {"-": "mmaj", "+": "maj"}.get(tri, "maj") + ext + ("#5" if tri == "+" else "") + alts
    if tri == "-":
        return "m" + ext + alts
    if tri == "+":
        return ext + "#5" + alts
    if tri == "sus":
        return ext + "sus4" + alts
    return ext + alts


def read_chord(symbol):
    """The ChordReading of a Jazzomat chord symbol; ChordSymbolError naming it if unreadable.

    "NC" is NO_CHORD. Tensions our quality table lacks are dropped (as few as possible).
    """
    if not isinstance(symbol, str):
        raise ChordSymbolError(f"a chord symbol must be text, not {symbol!r}")
    s = symbol.strip()
    if s == "NC":
        return ChordReading(NO_CHORD, "N.C.", ())
    m = _SYMBOL_RE.match(s)
    q = _QUALITY_RE.match(m.group(2)) if m else None
    if not q:
        raise ChordSymbolError(f"unknown Jazzomat chord symbol {symbol!r}")
    root, bass = m.group(1), m.group(3) or ""
    tensions = _TENSION_RE.findall(q.group("ten"))
    parts = q.group("tri"), q.group("six"), q.group("sev")
    n = len(tensions)
    for n_drop in range(n + 1):       # as few dropped as possible, the last ones first
        for drop in combinations(range(n - 1, -1, -1), n_drop):
            kept = [t for i, t in enumerate(tensions) if i not in drop]
            text = root + _lead_sheet(*parts, kept, q.group("alt")) + bass
            try:
                chord = parse_symbol(text)
            except ChordSymbolError:
                continue
            dropped = tuple(acc + num for i, (num, acc) in enumerate(tensions) if i in drop)
            return ChordReading(chord, text, dropped)
    raise ChordSymbolError(f"unknown Jazzomat chord symbol {symbol!r} (read as {text!r})")


def jazzomat_chord(symbol):
    """The Chord of a Jazzomat symbol (see `read_chord`)."""
    return read_chord(symbol).chord


# ---- onsets -------------------------------------------------------------------------

def position(tatum, division):
    """A note's place in its beat, as the exact fraction (tatum - 1) / division."""
    if (isinstance(tatum, bool) or isinstance(division, bool)
            or not isinstance(tatum, int) or not isinstance(division, int)
            or division < 1 or not 1 <= tatum <= division):
        raise ValueError(f"bad metrical position: tatum {tatum!r} of division {division!r}")
    return _position(tatum, division)


@lru_cache(maxsize=1024)
def _position(tatum, division):
    return Fraction(tatum - 1, division)


def _assign(targets, points, drop_cost, min_gap):
    """Order-preserving assignment of `targets` (Fractions of ticks) to `points`, two
    consecutive kept targets at least `min_gap` ticks apart, with the least total
    movement plus `drop_cost` per dropped target: a list of point-or-None per target.
    Ties go to the earlier point, then to keeping the note."""
    n, m = len(targets), len(points)
    # best[i][k]: the cost of placing targets i.. when the last point taken is k - 1
    # (k = 0: none yet), with the choice that achieves it
    best = [[(0, None)] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for k in range(m + 1):
            choice = (best[i + 1][k][0] + drop_cost, None)          # drop target i
            for j in range(k, m):
                if k and points[j] - points[k - 1] < min_gap:
                    continue
                cost = abs(targets[i] - points[j]) + best[i + 1][j + 1][0]
                if cost < choice[0] or (cost == choice[0] and choice[1] is None):
                    choice = (cost, j)
            best[i][k] = choice
    out, k = [], 0
    for i in range(n):
        j = best[i][k][1]
        out.append(None if j is None else points[j])
        if j is not None:
            k = j + 1
    return out


def quantize_beat(positions, next_downbeat_free=False, grid=GRID, drop_ticks=DROP_TICKS,
                  triplets_near=False):
    """Ticks (0..12 inside the beat) for the onsets of one beat, with the rule used.

    `positions`: the onsets' places in the beat (Fractions in [0, 1), increasing).
    `next_downbeat_free`: nothing starts on the next beat, so a late tuplet note may
    round onto it (tick 12). `triplets_near`: a neighbouring beat holds a real triplet,
    so a {0, 2/3} pattern is a triplet, not swing. Returns [(tick or None, rule)], rule
    "exact", "swing" (2/3 -> 6), "triplet" (a swing pattern kept at 2/3 -> 8),
    "tuplet" (moved to the nearest free grid point) or "dropped" (tick None).
    """
    return list(_quantize_beat(tuple(positions), bool(next_downbeat_free), tuple(grid),
                               drop_ticks, bool(triplets_near)))


@lru_cache(maxsize=8192)      # a few hundred patterns make up nearly every beat
def _quantize_beat(positions, next_downbeat_free, grid, drop_ticks, triplets_near):
    pos = tuple(Fraction(p) for p in positions)
    if any(not 0 <= p < 1 for p in pos) or any(a >= b for a, b in zip(pos, pos[1:])):
        raise ValueError(f"onset positions in a beat must increase within [0, 1): {positions!r}")
    if pos and set(pos) <= _SWING and pos[-1] == Fraction(2, 3):
        late = (TPQ * 2 // 3, "triplet") if triplets_near else (TPQ // 2, "swing")
        return tuple((0, "exact") if p == 0 else late for p in pos)
    targets = [p * TPQ for p in pos]
    if all(t.denominator == 1 and t in grid for t in targets):
        return tuple((int(t), "exact") for t in targets)
    points = [Fraction(g) for g in grid] + ([Fraction(TPQ)] if next_downbeat_free else [])
    out = []
    for t, got in zip(targets, _assign(targets, points, drop_ticks, MIN_TUPLET_IOI)):
        if got is None:
            out.append((None, "dropped"))
        else:
            out.append((int(got), "exact" if got == t else "tuplet"))
    return tuple(out)


def quantize_onsets(notes, grid=GRID, drop_ticks=DROP_TICKS):
    """Ticks from the origin for a solo's notes, each (beat_index, tatum, division),
    sorted by position; beat_index counts beats from the origin (0 = its first beat).

    Returns [(tick or None, rule)] in input order (see `quantize_beat`). Beats are
    done from the last one back, so a tuplet note may round onto the next beat only
    when nothing starts there, and a swing pattern next to a beat with a real triplet
    (an onset at 1/3) stays a triplet.
    """
    beats = {}
    for k, (beat, tatum, division) in enumerate(notes):
        beats.setdefault(beat, []).append((position(tatum, division), k))
    third = Fraction(1, 3)
    triplet_beats = {b for b, items in beats.items() if any(p == third for p, _ in items)}
    out = [None] * len(notes)
    taken = set()                       # beats whose downbeat holds an onset
    for beat in sorted(beats, reverse=True):
        items = beats[beat]
        near = beat - 1 in triplet_beats or beat + 1 in triplet_beats
        res = _quantize_beat(tuple(p for p, _ in items), beat + 1 not in taken, tuple(grid),
                             drop_ticks, near)
        for (_, k), (tick, rule) in zip(items, res):
            out[k] = (None if tick is None else beat * TPQ + tick, rule)
            if tick == 0:
                taken.add(beat)
            elif tick == TPQ:
                taken.add(beat + 1)
    return out


def snap(beats, grid=GRID):
    """The grid tick nearest to a position in beats (a measured float): ties go early."""
    b = math.floor(beats)
    frac = (beats - b) * TPQ
    best = min(list(grid) + [TPQ], key=lambda g: (abs(g - frac), g))
    return b * TPQ + best


def rest_after(sounded, ioi, beat, gap_beats=REST_GAP_BEATS):
    """Whether a rest follows a note: its sound (seconds) stops at least `gap_beats`
    local beats (`beat`, seconds) before the next onset (`ioi`, seconds after its own).
    Shorter silences are articulation (staccato), not rests."""
    return ioi - sounded >= gap_beats * beat


def end_tick(onset, end_beats, next_onset, grid=GRID):
    """The grid tick where a note followed by a rest stops sounding, or None when the
    rest would not fit before `next_onset` (ticks). `end_beats` is the measured end in
    beats from the origin; the end is at least one grid step after the onset."""
    base = onset - onset % TPQ
    first = min([base + g for g in grid if base + g > onset] + [base + TPQ])
    end = max(snap(end_beats, grid), first)
    return end if end < next_onset else None
