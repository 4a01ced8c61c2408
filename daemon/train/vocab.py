"""The vocabularies of the three heads: kinds, durations and steps.

- Kinds are the grammar's five (C, S, A, X, R).
- Durations (ticks, onset to onset) seen at least `min_count` times in the training
  pieces; a rarer one is mapped to the nearest frequent one (the shorter on a tie).
- Steps from -16 to +16 semitones: an octave and a third either way, so the rare leaps
  over an octave (about 1 % of the jazz corpus's steps) stay in the line; a larger one
  is folded by octaves into that range: the same pitch class, an octave nearer.
"""

from collections import Counter

from jazzd.grammar.values import KINDS
from jazzd.grammar.values import fold_step as _fold

MAX_STEP = 16


def fold_step(step):
    """`step` moved by octaves into [-MAX_STEP, MAX_STEP], keeping its direction."""
    return _fold(step, MAX_STEP)


class Vocab:
    """Index maps for the three heads; `encode(value)` → (kind, duration, step or None)."""

    def __init__(self, durations, kinds=KINDS, steps=None):
        self.kinds = list(kinds)
        self.durations = sorted(int(t) for t in durations)
        self.steps = list(steps) if steps is not None else list(range(-MAX_STEP, MAX_STEP + 1))
        self.kind_index = {k: i for i, k in enumerate(self.kinds)}
        self.step_index = {s: i for i, s in enumerate(self.steps)}
        self._dur_index = {t: i for i, t in enumerate(self.durations)}
        self.remapped = Counter()        # rare durations seen, mapped to a frequent one

    def as_dict(self):
        return {"kinds": self.kinds, "durations": self.durations, "steps": self.steps}

    def duration_index(self, ticks):
        i = self._dur_index.get(ticks)
        if i is None:
            self.remapped[ticks] += 1
            i = min(range(len(self.durations)),
                    key=lambda j: (abs(self.durations[j] - ticks), self.durations[j]))
            self._dur_index[ticks] = i
        return i

    def encode(self, value):
        step = None if value.step is None else self.step_index[fold_step(value.step)]
        return self.kind_index[value.kind], self.duration_index(value.ticks), step


def build_vocab(value_lists, min_count=3):
    """A Vocab over the durations seen `min_count` times or more in `value_lists`."""
    counts = Counter(v.ticks for vs in value_lists for v in vs)
    frequent = [t for t, n in counts.items() if n >= min_count]
    if not frequent:
        frequent = [t for t, _ in counts.most_common(1)]
    return Vocab(frequent)
