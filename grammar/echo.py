"""Echo: how much of an answer comes from the call before it.

A line is compared by its intervals, so a figure restated a fourth higher, or sequenced
from another note, counts as the same figure. The measure of one answer is the share
of its interval 3-grams (three successive intervals, four notes) that also occur in the
call; a line that does not listen scores what chance gives (about 0.01 for jazz lines,
docs/LIVE.md "Trading").
"""

N = 3


def interval_ngrams(pitches, n=N):
    """The interval n-grams of a line of MIDI pitches, in order: tuples of n steps."""
    steps = [b - a for a, b in zip(pitches, pitches[1:])]
    return [tuple(steps[i:i + n]) for i in range(len(steps) - n + 1)]


def echo(call, answer, n=N):
    """Share of `answer`'s interval n-grams found among `call`'s (pitch lists), or None
    when the answer is too short to have one."""
    grams = interval_ngrams(answer, n)
    if not grams:
        return None
    known = set(interval_ngrams(call, n))
    return sum(g in known for g in grams) / len(grams)


def mean(values):
    """The mean of the measures that exist (None: an answer too short), or None."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None
