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
from jazzd.grammar.values import DURATION_KEYS

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


class Style:
    """Bias tables for one model vocabulary (kinds, durations in ticks) and one style
    config section."""

    def __init__(self, kinds, durations, style_cfg, beats_per_bar=4):
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

        self.dur_bias = np.array([_log_weight(dur_w.get(nearest_key(int(d), keys), 1.0))
                                  for d in self.durations])
        if not (self.dur_bias > NEG / 2).any():
            self.dur_bias[:] = 0.0             # every length forbidden: ignore the weights
        self._k = np.empty(K)
        self._d = np.empty(D)
        self._buf = {}

    # -- distributions ----------------------------------------------------------------

    def kind_distribution(self, logits, bar_tick, temperature, rest_probability=None):
        """Tempered, biased probabilities of the kinds (a reused buffer)."""
        z = self._k
        np.divide(logits, temperature, out=z)
        z += self.kind_bias[bar_tick % self.bar_ticks]
        _softmax(z)
        p_rest = self.rest_probability if rest_probability is None else rest_probability
        if p_rest is not None:
            rest_mass = float(z[self.rest])
            note_mass = 1.0 - rest_mass
            if rest_mass > 0 and note_mass > 0:
                np.multiply(z, (1.0 - p_rest) / note_mass, out=z, where=self.not_rest)
                z[self.rest] = p_rest
        return z

    def dur_distribution(self, logits, temperature):
        """Tempered, biased probabilities of the durations (a reused buffer)."""
        z = self._d
        np.divide(logits, temperature * self.rhythm_temperature, out=z)
        z += self.dur_bias
        return _softmax(z)

    def step_distribution(self, logits, temperature):
        n = len(logits)
        z = self._buf.get(n)
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

