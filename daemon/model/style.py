"""Impro-Visor-style controls: logit biases on top of the LSTM's distribution.

The model says what the corpus would play next; the style says what a jazz player
wants more or less of. Each control is a multiplicative weight on the probability of
the tokens it concerns, i.e. `log(weight)` added to their logits (weight 0 forbids):

- `kind_weights`: per kind, C / S / A / X / R (L is accepted and ignored until the
  grammar produces colour tones);
- `duration_weights`: per duration in quarters ("1/3" = an eighth triplet, "1/2" = an
  eighth, played swung); a token whose length is none of the keys counts as the
  nearest key; keys not given keep weight 1;
- `strong_beat_chord_weight`: an extra weight on C at the onsets of beats 1 and 3;
- `rest_probability`: when set, the total probability of all rests is rescaled to it
  at every step (the live `density` control overrides it), which sets how often a
  phrase breathes regardless of how rest-shy the corpus was.

Tokens whose duration would cross the bar line are forbidden (GRAMMAR.md bug 4).
Everything depends only on the token and the onset's tick in the bar, so the whole
bias table, one row per tick of the bar, is built once at start-up; a step is one
row lookup and a few in-place NumPy operations on preallocated buffers.
"""

import math
from fractions import Fraction

import numpy as np

from jazzd.grammar.meter import strong_beats
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.values import DURATION_KEYS

NEG = -1e9   # a forbidden token's bias: exp() of it is exactly 0, with no inf arithmetic


def duration_ticks(text):
    """Ticks of a duration key such as "1/3" or "3/2" (quarters)."""
    return int(Fraction(text) * TPQ)


def nearest_key(ticks, keys):
    """The duration key (in ticks) a token's length counts as: itself if it is one,
    else the nearest (the shorter on a tie), so e.g. a 1-tick token counts as "1/6"
    and a 4.5-beat one as "4", and a full set of keys covers every token."""
    return min(keys, key=lambda k: (abs(k - ticks), k))


def _log_weight(w):
    return NEG if w <= 0 else math.log(w)


def strong_ticks(beats_per_bar):
    """Ticks in the bar of "beats 1 and 3": the downbeat and the half-bar in even meters."""
    return {b * TPQ for b in strong_beats(beats_per_bar)}


class Style:
    """The bias table for one vocabulary and one style config section.

    `values[i]` is the `jazzd.grammar.values.Value` of token i (None for "<s>", never sampled).
    """

    def __init__(self, values, style_cfg, beats_per_bar=4):
        self.values = values
        self.bar_ticks = beats_per_bar * TPQ
        V = len(values)
        kind_w = style_cfg.get("kind_weights") or {}
        dur_w = {duration_ticks(k): w for k, w in (style_cfg.get("duration_weights") or {}).items()}
        keys = sorted(duration_ticks(k) for k in DURATION_KEYS)
        strong_w = float(style_cfg.get("strong_beat_chord_weight", 1.0))
        self.rest_probability = style_cfg.get("rest_probability")

        base = np.zeros(V)
        self.is_rest = np.zeros(V, dtype=bool)
        self.is_chord = np.zeros(V, dtype=bool)
        ticks = np.zeros(V, dtype=np.int64)
        for i, v in enumerate(values):
            if v is None:
                base[i] = NEG
                ticks[i] = 10 ** 9
                continue
            ticks[i] = v.ticks
            base[i] += _log_weight(kind_w.get(v.kind, 1.0))
            base[i] += _log_weight(dur_w.get(nearest_key(v.ticks, keys), 1.0))
            self.is_rest[i] = v.kind == "R"
            self.is_chord[i] = v.kind == "C"
        self.ticks = ticks
        self.not_rest = ~self.is_rest
        self.rest_f = self.is_rest.astype(float)

        strong = strong_ticks(beats_per_bar)
        # bias[t] = the biases for an onset at tick t of the bar
        self.bias = np.empty((self.bar_ticks, V))
        self.fallback = np.zeros(self.bar_ticks, dtype=np.int64)
        for t in range(self.bar_ticks):
            row = base.copy()
            if t in strong:
                row[self.is_chord] += _log_weight(strong_w)
            room = self.bar_ticks - t
            row[ticks > room] = NEG
            self.bias[t] = row
            # if nothing fits (no token that short), the shortest token is cut to fit
            self.fallback[t] = int(np.argmin(np.where(base > NEG / 2, ticks, 10 ** 9)))
        self.any_fits = (self.bias > NEG / 2).any(axis=1)
        self._z = np.empty(V)
        self._cum = np.empty(V)

    def distribution(self, logits, bar_tick, temperature, rest_probability=None,
                     no_rest=False):
        """The biased, tempered probabilities over tokens for an onset at `bar_tick`
        (a view of an internal buffer: copy it to keep it)."""
        z = self._z
        t = bar_tick % self.bar_ticks
        if not self.any_fits[t]:        # no token short enough: the shortest, cut to fit
            z.fill(0.0)
            z[self.fallback[t]] = 1.0
            return z
        np.divide(logits, temperature, out=z)
        z += self.bias[t]
        if no_rest:
            np.add(z, NEG, out=z, where=self.is_rest)
        z -= z.max()
        np.exp(z, out=z)
        p_rest = self.rest_probability if rest_probability is None else rest_probability
        if p_rest is not None and not no_rest:
            rest_mass = float(np.dot(z, self.rest_f))
            note_mass = float(z.sum()) - rest_mass
            if rest_mass > 0 and note_mass > 0:
                np.multiply(z, p_rest / rest_mass, out=z, where=self.is_rest)
                np.multiply(z, (1.0 - p_rest) / note_mass, out=z, where=self.not_rest)
        z /= z.sum()
        return z

    def sample(self, logits, bar_tick, temperature, rng, rest_probability=None,
               no_rest=False):
        """A token index drawn from `distribution` with `rng` (a random.Random); the
        token is the one fed back to the LSTM."""
        t = bar_tick % self.bar_ticks
        if not self.any_fits[t]:
            return int(self.fallback[t])
        p = self.distribution(logits, t, temperature, rest_probability, no_rest)
        np.cumsum(p, out=self._cum)
        u = rng.random() * self._cum[-1]
        i = int(np.searchsorted(self._cum, u, side="right"))
        i = min(i, len(p) - 1)
        while p[i] == 0.0 and i > 0:   # u landed exactly on a boundary of a zero token
            i -= 1
        return i
