"""Parsing: a melody plus a chord timeline gives values (GRAMMAR.md, "Parsing").

The rules, each chosen so that the rhythm survives the round trip exactly:

- Time is in ticks (1/12 quarter). Onsets and durations may be given as ints,
  floats or Fractions of ticks; they are snapped to the *nearest* tick (half up),
  never at random (seed bug 1).
- `notes` holds `(onset, pitch)` pairs or `(onset, duration, pitch)` triples; pitch
  None marks the start of a rest. Durations are onset to onset (seed bug 3): with a
  pair a note sounds until the next onset; with a triple, a silence of `min_rest`
  ticks or more (default 3, a sixteenth) between its end and the next onset becomes
  an explicit R value, and a shorter one is absorbed into the note (articulation,
  not a rest). A note that overlaps the next one is cut at the next onset.
- Two onsets at the same tick (polyphony, or two onsets snapped together): the
  highest pitch is kept, as the melody; a note beats a rest marker.
- Bars start at `start` and are `bar_ticks` long. A value that would cross a bar
  line is cut there and the remainder becomes an R value in the next bar, so the
  values of every bar add up to exactly `bar_ticks`. Adjacent rests in a bar merge.
- The piece ends at `end` (a whole number of bars after `start`); without it, at the
  bar line after the last note's end (a pair's last note fills its bar).
- Each note is classified against the chord at its onset (C, S, A, X; over
  NO_CHORD it is X). Its step is the exact interval from the previous sounded note,
  across rests too (a player's next phrase starts from where the last one ended);
  the melody's first note has none. Its window is `window_for_step` of the step; the
  first note, and a note after a silence of a bar or more, start a phrase and have
  no window (lo = hi = None).
"""

import math
import numbers
from fractions import Fraction

from jazzd.grammar.values import Value, classify, window_for_step

_HALF = Fraction(1, 2)


def _tick(x, what):
    """Nearest int tick of an int/float/Fraction number of ticks (half up)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ValueError(f"{what}: not a number of ticks: {x!r}")
    if isinstance(x, numbers.Integral):
        return int(x)
    try:
        return math.floor(Fraction(x) + _HALF)
    except (ValueError, OverflowError):
        raise ValueError(f"{what}: not a finite number of ticks: {x!r}") from None


def _pitch(p, what):
    if p is None:
        return None
    if isinstance(p, bool) or not isinstance(p, numbers.Integral) or not 0 <= p <= 127:
        raise ValueError(f"{what}: pitch must be a MIDI note 0-127 or None, got {p!r}")
    return int(p)


def _normalise(notes):
    """[(onset, end or None, pitch or None)] sorted, one event per onset."""
    best = {}
    for i, item in enumerate(notes):
        what = f"note #{i} {item!r}"
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(f"{what}: expected (onset, pitch) or (onset, duration, pitch)")
        onset = _tick(item[0], what)
        if onset < 0:
            raise ValueError(f"{what}: negative onset")
        end = None
        if len(item) == 3:
            if isinstance(item[1], numbers.Real) and not isinstance(item[1], bool) and item[1] <= 0:
                raise ValueError(f"{what}: duration must be positive")
            end = onset + max(1, _tick(item[1], what))
        pitch = _pitch(item[-1], what)
        old = best.get(onset)
        if old is None or (pitch is not None and (old[2] is None or pitch > old[2])):
            best[onset] = (onset, end, pitch)
    return [best[o] for o in sorted(best)]


def _check_int(x, name, minimum):
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {x!r}")
    return int(x)


def parse_melody(notes, timeline, bar_ticks=48, start=0, end=None, min_rest=3):
    """Values of a melody over `timeline` (see the module docstring for the rules).

    `notes`: iterable of (onset, pitch) or (onset, duration, pitch), in ticks.
    Notes before `start` or at/after `end` are ignored. Returns a list of Value whose
    durations sum to `end - start`, a whole number of bars.
    """
    return [v for v, _ in parse_melody_pitched(notes, timeline, bar_ticks, start, end,
                                               min_rest)]


def parse_melody_pitched(notes, timeline, bar_ticks=48, start=0, end=None, min_rest=3,
                         cut_at_bars=True):
    """`parse_melody`, each value paired with its pitch (None for a rest): training
    conditions on where the line is, which the abstract values do not say.

    With `cut_at_bars=False` a note tied over a bar line stays one value (its onset to
    the next onset); rests are still cut at bar lines, so a long silence is a rest per
    bar and no value of silence is longer than a bar. Values still tile the piece
    exactly, but a bar no longer sums on its own. Training reads corpora this way,
    because cutting puts a rest on the downbeat after every tied note (4.2 % of the
    jazz corpus's notes): a model learns to stop at bar lines (docs/MODEL.md)."""
    bar_ticks = _check_int(bar_ticks, "bar_ticks", 1)
    start = _check_int(start, "start", 0)
    min_rest = _check_int(min_rest, "min_rest", 1)
    events = _normalise(notes)
    if end is not None:
        end = _check_int(end, "end", start + 1)
        if (end - start) % bar_ticks:
            raise ValueError(f"end - start = {end - start} ticks is not a whole number of "
                             f"{bar_ticks}-tick bars")
    events = [e for e in events if e[0] >= start and (end is None or e[0] < end)]
    if end is None:
        if not events:
            return []
        last = max((e if e is not None else o + 1) for o, e, _ in events)
        end = start + -(-(last - start) // bar_ticks) * bar_ticks

    # 1. contiguous segments (t0, t1, pitch or None) covering [start, end)
    segs = []
    t = start
    for i, (onset, stop, pitch) in enumerate(events):
        nxt = events[i + 1][0] if i + 1 < len(events) else end
        if onset > t:
            segs.append((t, onset, None))
        if pitch is None:
            segs.append((onset, nxt, None))
        elif stop is not None and nxt - stop >= min_rest:
            segs.append((onset, stop, pitch))
            segs.append((stop, nxt, None))
        else:
            segs.append((onset, nxt, pitch))
        t = nxt
    if t < end:
        segs.append((t, end, None))

    # 2. values: classify, window, cut at bar lines, merge rests within a bar
    values = []          # [(Value, pitch or None)]
    prev = None          # previous sounded pitch
    prev_stop = None     # where it stopped sounding
    for t0, t1, pitch in segs:
        step = None
        if pitch is None:
            kind, lo, hi = "R", None, None
        else:
            kind = classify(pitch, timeline.at(t0))
            if prev is not None:
                step = pitch - prev
            if prev is None or t0 - prev_stop >= bar_ticks:
                lo = hi = None
            else:
                lo, hi = window_for_step(pitch - prev)
            prev, prev_stop = pitch, t1
        pos = t0
        sounding = pitch
        while pos < t1:
            bar_end = start + ((pos - start) // bar_ticks + 1) * bar_ticks
            cut = min(t1, bar_end) if cut_at_bars or kind == "R" else t1
            at_bar_line = (pos - start) % bar_ticks == 0
            if kind == "R" and values and values[-1][0].kind == "R" and not at_bar_line:
                last = values[-1][0]
                values[-1] = (last._replace(ticks=last.ticks + cut - pos), None)
            else:
                values.append((Value(kind, cut - pos, lo, hi, step), sounding))
            kind, lo, hi, step = "R", None, None, None  # the part past a bar line rests
            sounding = None
            pos = cut
    return values
