"""Post-processing (GRAMMAR.md): snap to the grid, and make a value stream well formed.

Each function returns a new list and never edits its input, least of all while
iterating over it (seed bug 7).
"""

import math
import numbers
from fractions import Fraction

from jazzd.grammar.pitch import TPQ
from jazzd.grammar.values import Value

_HALF = Fraction(1, 2)


def snap_ticks(quarters):
    """Ticks of a duration in quarters, snapped to the *nearest* 1/12-quarter point.

    Ties go up. A positive duration never becomes 0 (it becomes 1 tick): seed bug 1
    turned 0.125 into 0 and 0.25 into 0.5 half of the time. Negative, NaN or infinite
    durations raise ValueError.
    """
    if isinstance(quarters, bool) or not isinstance(quarters, numbers.Real):
        raise ValueError(f"not a duration in quarter notes: {quarters!r}")
    try:
        q = Fraction(quarters)
    except (ValueError, OverflowError):
        raise ValueError(f"not a finite duration: {quarters!r}") from None
    if q < 0:
        raise ValueError(f"negative duration: {quarters!r}")
    ticks = math.floor(q * TPQ + _HALF)
    return max(ticks, 1) if q > 0 else 0


def clean(values, bar_ticks=48, total=None):
    """A well-formed copy of a value stream whose bars start at tick 0.

    - values with zero (or negative) ticks are dropped, so two onsets never share a tick;
    - a value that runs past a bar line is cut there (seed bug 4) and the rest of its
      time becomes an R value in the next bar;
    - adjacent rests within a bar are merged (never across a bar line);
    - the stream is cut at `total` ticks when given, and padded with a rest up to
      `total`, or, without `total`, up to the end of its last bar. So every bar sums
      to exactly `bar_ticks`.
    """
    if isinstance(bar_ticks, bool) or not isinstance(bar_ticks, int) or bar_ticks <= 0:
        raise ValueError(f"bar_ticks must be a positive int, got {bar_ticks!r}")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise ValueError(f"total must be an int >= 0 of ticks, got {total!r}")
    out = []
    pos = 0

    def put(kind, ticks, lo, hi, step):
        # `ticks` never crosses a bar line here
        if kind == "R" and out and out[-1].kind == "R" and pos % bar_ticks:
            out[-1] = out[-1]._replace(ticks=out[-1].ticks + ticks)
        else:
            out.append(Value(kind, ticks, lo, hi, step))

    for i, v in enumerate(values):
        kind, ticks, lo, hi, step = Value(*v)
        if isinstance(ticks, bool) or not isinstance(ticks, int):
            raise ValueError(f"value #{i} {v!r}: ticks must be an int")
        if ticks <= 0:
            continue
        if total is not None:
            ticks = min(ticks, total - pos)
            if ticks <= 0:
                break
        end = pos + ticks
        while pos < end:
            cut = min(end, (pos // bar_ticks + 1) * bar_ticks)
            put(kind, cut - pos, lo, hi, step)
            kind, lo, hi, step = "R", None, None, None
            pos = cut
    stop = total if total is not None else -(-pos // bar_ticks) * bar_ticks
    while pos < stop:
        cut = min(stop, (pos // bar_ticks + 1) * bar_ticks)
        put("R", cut - pos, None, None, None)
        pos = cut
    return out


def split_bars(values, bar_ticks=48):
    """The values grouped by bar; raises ValueError if one crosses a bar line."""
    bars, bar, pos = [], [], 0
    for v in values:
        if bar and pos % bar_ticks == 0:
            bars.append(bar)
            bar = []
        if pos // bar_ticks != (pos + v.ticks - 1) // bar_ticks:
            raise ValueError(f"value {v!r} at tick {pos} crosses a bar line")
        bar.append(v)
        pos += v.ticks
    if bar:
        bars.append(bar)
    return bars


def limit_repeats(notes, max_repeats=2):
    """A copy of `notes` [(ticks, pitch or None)] without a pitch sounding more than
    `max_repeats` times in a row (rests do not break a run).

    An extra repetition that directly follows the same pitch is tied into it (its ticks
    join the previous note); one that follows a rest becomes a rest. Total time is kept.
    """
    if max_repeats < 1:
        raise ValueError(f"max_repeats must be at least 1, got {max_repeats!r}")
    out = []
    last, run = None, 0
    for ticks, pitch in notes:
        if pitch is not None and pitch == last and run >= max_repeats:
            pitch = None if (out and out[-1][1] is None) else last
            if pitch is not None:      # tie into the previous note
                out[-1] = (out[-1][0] + ticks, pitch)
                continue
        if pitch is None:
            if out and out[-1][1] is None:
                out[-1] = (out[-1][0] + ticks, None)
            else:
                out.append((ticks, None))
            continue
        run = run + 1 if pitch == last else 1
        last = pitch
        out.append((ticks, pitch))
    return out
