"""Impro-Visor-style controls: biases on the model's three heads, and sampling.

The model says what the corpus would play next; the style says what a player wants
more or less of. Each control is a multiplicative weight on the probability of what
it concerns, i.e. `log(weight)` added to the logits (weight 0 forbids):

- `kind_weights`: per kind, C / S / A / X / R, on the kind head (L is accepted and
  ignored: the grammar produces no colour tones);
- `strong_beat_chord_weight`: an extra weight on C at the onsets of beats 1 and 3;
- `rest_probability`: when set, the probability of a rest is rescaled to it at every
  step (the live `density` control overrides it), which sets how often the line
  breathes whatever the corpus did;
- `duration_weights`: per note length in quarters ("1/3" = an eighth triplet, "1/2"
  = an eighth, played swung) on the duration head; a length that is none of the keys
  (the standard DURATION_KEYS and those given) counts as the nearest key, so naming
  a length ("5/12") weighs it alone; keys not given keep weight 1;
- `onset_weights`: per place in the beat ("0" on the beat, "1/2" the off-beat eighth,
  "1/3" a triplet, "1/6" a sixteenth triplet, ...) where the *next* onset would fall,
  on the duration head. The sampled line drifts off the corpus's places (exposure
  bias: one odd length puts the next ones off the beat too); these weights put it
  back. A length that would put the next onset off the onset grid (ONSET_KEYS: a
  twelfth or five twelfths into the beat) is never drawn: the corpus has none;
- `interval_weights`: per step size in semitones ("1", "2", "3-4", ..., "13+") on
  the step head: more or fewer chromatic steps, whole steps, leaps;
- `resolve_approach`: after an approach tone (A), a weight on a chord tone next
  (kind head) and on a step of 1-2 semitones to it (step head): approach tones that
  resolve;
- `rhythm_temperature`: a factor on the temperature of the duration head alone: below
  1 the rhythm settles into the corpus's commonest lengths while the pitch line keeps
  its variety.

With every control at 1 and rest_probability null the style is neutral: the model's
own voice. A value may be tied over the bar line (time runs on in ticks, so the next
bar starts on time: GRAMMAR.md bug 4 was bars generated apart). What depends on the
position in the bar is a table built once, so a draw is a row lookup and a few
in-place NumPy operations on preallocated buffers.
"""

import math
from fractions import Fraction

import numpy as np

from jazzd.grammar.meter import strong_beats
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.values import DURATION_KEYS, ONSET_KEYS, interval_key

NEG = -1e9   # a forbidden entry's bias: exp() of it is exactly 0, with no inf arithmetic


def duration_ticks(text):
    """Ticks of a duration key such as "1/3" or "3/2" (quarters)."""
    return int(Fraction(text) * TPQ)


def nearest_key(ticks, keys):
    """The duration key (in ticks) a length counts as: itself if it is one, else the
    nearest (the shorter on a tie), so a full set of keys covers every length."""
    return min(keys, key=lambda k: (abs(k - ticks), k))


def only_length(ticks, longest=96):
    """duration_weights that allow one note length alone (the bench and the live tests
    play a steady line of it, to check every onset against a grid)."""
    return {str(Fraction(n, TPQ)): (1 if n == ticks else 0) for n in range(1, longest + 1)}


def _log_weight(w):
    return NEG if w <= 0 else math.log(w)


def strong_ticks(beats_per_bar):
    """Ticks in the bar of "beats 1 and 3": the downbeat and the half-bar in even meters."""
    return {b * TPQ for b in strong_beats(beats_per_bar)}


def onset_ticks(text):
    """Ticks into the beat of an onset key such as "1/3"."""
    return int(Fraction(text) * TPQ)


class Style:
    """Bias tables for one model vocabulary (kinds, durations in ticks, steps in
    semitones) and one style config section."""

    def __init__(self, kinds, durations, style_cfg, beats_per_bar=4, steps=()):
        self.kinds = list(kinds)
        self.durations = np.asarray(durations, dtype=np.int64)
        self.bar_ticks = beats_per_bar * TPQ
        K, D = len(self.kinds), len(self.durations)
        kind_w = style_cfg.get("kind_weights") or {}
        dur_w = {duration_ticks(k): w
                 for k, w in (style_cfg.get("duration_weights") or {}).items()}
        keys = sorted({duration_ticks(k) for k in DURATION_KEYS} | set(dur_w))
        strong_w = float(style_cfg.get("strong_beat_chord_weight", 1.0))
        self.rest_probability = style_cfg.get("rest_probability")
        self.rhythm_temperature = float(style_cfg.get("rhythm_temperature", 1.0))
        self.rest = self.kinds.index("R")
        self.is_rest = np.zeros(K, dtype=bool)
        self.is_rest[self.rest] = True
        self.not_rest = ~self.is_rest

        kind_base = np.array([_log_weight(kind_w.get(k, 1.0)) for k in self.kinds])
        strong = strong_ticks(beats_per_bar)
        self.kind_bias = np.empty((self.bar_ticks, K))
        for t in range(self.bar_ticks):
            self.kind_bias[t] = kind_base
            if t in strong and "C" in self.kinds:
                self.kind_bias[t, self.kinds.index("C")] += _log_weight(strong_w)

        dur_bias = np.array([_log_weight(dur_w.get(nearest_key(int(d), keys), 1.0))
                             for d in self.durations])
        if not (dur_bias > NEG / 2).any():
            dur_bias[:] = 0.0                  # every length forbidden: ignore the weights
        # one row per place in the beat of the value's own onset: the length weights
        # plus the weight of the place where the next onset would fall
        onset_w = {onset_ticks(k): w for k, w in (style_cfg.get("onset_weights") or {}).items()}
        grid = {onset_ticks(k) for k in ONSET_KEYS}
        self.dur_bias = np.empty((TPQ, D))
        for pos in range(TPQ):
            nxt = (pos + self.durations) % TPQ
            row = dur_bias + np.array([_log_weight(onset_w.get(int(n), 1.0)) if n in grid
                                       else NEG for n in nxt])
            if not (row > NEG / 2).any():
                row = dur_bias                 # nothing allowed: the weights alone
            self.dur_bias[pos] = row

        self.steps = list(steps)
        step_w = style_cfg.get("interval_weights") or {}
        self.step_bias = np.array([_log_weight(step_w.get(interval_key(s), 1.0))
                                   for s in self.steps])
        resolve = float(style_cfg.get("resolve_approach", 1.0))
        self.approach = self.kinds.index("A") if "A" in self.kinds else None
        self.kind_bias_resolve = np.zeros(K)
        if "C" in self.kinds:
            self.kind_bias_resolve[self.kinds.index("C")] = _log_weight(resolve)
        self.step_bias_resolve = self.step_bias + np.array(
            [_log_weight(resolve) if 1 <= abs(s) <= 2 else 0.0 for s in self.steps])
        self._k = np.empty(K)
        self._d = np.empty(D)
        self._s = np.empty(len(self.steps))
        self._buf = {}

    # -- distributions ----------------------------------------------------------------

    def kind_distribution(self, logits, bar_tick, temperature, rest_probability=None,
                          after_approach=False):
        """Tempered, biased probabilities of the kinds (a reused buffer);
        `after_approach`: the previous note was an approach tone."""
        z = self._k
        np.divide(logits, temperature, out=z)
        z += self.kind_bias[bar_tick % self.bar_ticks]
        if after_approach:
            z += self.kind_bias_resolve
        _softmax(z)
        p_rest = self.rest_probability if rest_probability is None else rest_probability
        if p_rest is not None:
            rest_mass = float(z[self.rest])
            note_mass = 1.0 - rest_mass
            if rest_mass > 0 and note_mass > 0:
                np.multiply(z, (1.0 - p_rest) / note_mass, out=z, where=self.not_rest)
                z[self.rest] = p_rest
        return z

    def dur_distribution(self, logits, temperature, bar_tick=0):
        """Tempered, biased probabilities of the durations of a value whose onset is
        at `bar_tick` (a reused buffer)."""
        z = self._d
        np.divide(logits, temperature * self.rhythm_temperature, out=z)
        z += self.dur_bias[bar_tick % TPQ]
        return _softmax(z)

    def step_distribution(self, logits, temperature, resolving=False):
        """Tempered, biased probabilities of the steps (a reused buffer); `resolving`:
        a chord tone after an approach tone."""
        n = len(logits)
        if n == len(self.steps):
            z = self._s
            np.divide(logits, temperature, out=z)
            z += self.step_bias_resolve if resolving else self.step_bias
            return _softmax(z)
        z = self._buf.get(n)                   # a Style built without the steps
        if z is None:
            z = self._buf[n] = np.empty(n)
        np.divide(logits, temperature, out=z)
        return _softmax(z)


def _softmax(z):
    z -= z.max()
    np.exp(z, out=z)
    z /= z.sum()
    return z


def draw(p, rng, cum):
    """An index drawn from probabilities `p` with one `rng.random()` (a random.Random,
    so a seed makes the draw reproducible), `cum` a buffer of p's length; never an
    index of probability 0."""
    np.cumsum(p, out=cum)
    u = rng.random() * cum[-1]
    i = min(int(np.searchsorted(cum, u, side="right")), len(p) - 1)
    while p[i] == 0.0 and i > 0:       # u landed exactly on a boundary of a zero entry
        i -= 1
    return i

