"""Swing: where a straight grid position actually sounds.

`swing` is the share of the beat taken by the first of two eighths (0.5 = straight,
2/3 = triplet swing). Inside each beat the 12 ticks are mapped piecewise-linearly: the
first half of the beat (ticks 0-6) is stretched to `swing` of the beat and the second
half squeezed into the rest. The map is monotonic, so swinging never reorders or
overlaps notes, and it is exactly invertible, so a recorded performance can be put back
on the straight grid for scoring.
"""

from jazzd.grammar.pitch import TPQ

HALF = TPQ // 2


def swung_beats(tick, swing):
    """The position in beats (float) at which straight tick `tick` sounds."""
    beat, t = divmod(tick, TPQ)
    if t <= HALF:
        return beat + swing * t / HALF
    return beat + swing + (1.0 - swing) * (t - HALF) / HALF


def unswung_ticks(beats, swing):
    """The inverse of `swung_beats`: straight ticks (float) of a position in beats."""
    beat = int(beats // 1)
    f = beats - beat
    if f <= swing:
        t = f / swing * HALF
    else:
        t = HALF + (f - swing) / (1.0 - swing) * HALF
    return beat * TPQ + t
