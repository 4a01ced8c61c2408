"""The improviser core shared by `jazzd generate` and `jazzd run`.

Two decisions per note, made at two different times (DESIGN.md, "Late binding"):

- `next_value(bar_tick, chord)`, ahead of time: one step of the stateful LSTM (its
  (h, c) carried across every call and never reset while running), the style's logit
  biases, temperature sampling with a seeded RNG. This picks *what kind* of note comes
  next and how long it lasts.
- `realize(value, chord, bar_tick)`, just before the onset: the pitch, against the
  chord sounding *now*, with `jazzd.grammar.unparse.realize`.

Musical rules applied at realisation, on purpose (they are not GRAMMAR.md bug 5, which
rewrote every A and X to C and so silenced all approach tones):

- with `improviser.resolve_on_change`, the first note on a new chord is never an A or
  X tone: it becomes a chord tone, so an approach tone is heard resolving *into* the
  change instead of clashing with it;
- a note after an approach tone resolves by step (1-2 semitones) to a chord tone when
  one is that close, so A tones sound as approaches; and the value after an A is never
  a rest, so the approach is not left hanging;
- a phrase (after a rest of a beat or more, or `end_phrase()`) starts without an
  interval window, near where the last phrase ended.

Values and pitches come from two RNGs derived from one seed, so the sequence of values
does not depend on how far ahead the caller plans before realising.
"""

import random

import numpy as np

from jazzd.model.lstm import LSTMRuntime
from jazzd.model.style import Style, strong_ticks
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.unparse import realize as unparse_realize
from jazzd.grammar.values import Value

START_TOKEN = 0
RESOLVE_STEP = 2     # semitones: how far an approach tone may move to its resolution


def new_seed():
    """A random seed, for `seed: null` (a different performance each run)."""
    return random.SystemRandom().randrange(2 ** 63)


class Performer:
    """Plans values with the LSTM + style and realises them as pitches, one at a time.

    `cfg` is the validated config dict; `seed` overrides `improviser.seed`.
    Not thread-safe: one thread owns it (the improviser thread, or generate's loop).
    """

    def __init__(self, model, cfg, seed=None):
        imp = cfg["improviser"]
        self.model = model
        self.beats_per_bar = cfg["tempo"]["beats_per_bar"]
        self.bar_ticks = self.beats_per_bar * TPQ
        self.values = model.values
        self.lstm = LSTMRuntime(model)
        self.style = Style(self.values, cfg["style"], self.beats_per_bar)
        if seed is None:
            seed = imp.get("seed")
        self.seed = new_seed() if seed is None else int(seed)
        self._value_rng = random.Random(f"jazzd-values-{self.seed}")
        self._pitch_rng = random.Random(f"jazzd-pitches-{self.seed}")

        self.temperature = float(imp["temperature"])
        self.enabled = True
        self.density = None
        self.low = imp["lowest_note"]
        self.high = imp["highest_note"]
        self.max_repeats = imp["max_repeats"]
        self.resolve_on_change = imp["resolve_on_change"]
        self.velocity_low = imp["velocity_low"]
        self.velocity_high = imp["velocity_high"]
        self._strong = strong_ticks(self.beats_per_bar)

        if model.C:
            from jazzd.grammar.features import condition_into
            self._condition_into = condition_into
            self._cond = np.zeros(model.C, np.float32)
        else:
            self._condition_into = None
            self._cond = None

        self._token = START_TOKEN   # the LSTM's next input: the last sampled value
        self._last_value_kind = None
        self._prev_pitch = None     # the last sounded pitch
        self._repeats = 0           # how many times in a row it has sounded
        self._prev_kind = None      # the kind it was realised as
        self._prev_symbol = None    # the chord it sounded over
        self._rest_ticks = 0        # silence since it sounded
        self._phrase_start = True

    # ---- planning -------------------------------------------------------------------

    def next_value(self, bar_tick, chord):
        """The value whose onset is at `bar_tick` (ticks into the bar), over `chord`
        (the best guess of the chord there): one LSTM step + style + sampling."""
        bar_tick %= self.bar_ticks
        cond = None
        if self._cond is not None:
            cond = self._condition_into(self._cond, bar_tick, chord, self.beats_per_bar)
        logits = self.lstm.step(self._token, cond)
        i = self.style.sample(logits, bar_tick, self.temperature, self._value_rng,
                              rest_probability=self.density,
                              no_rest=self._last_value_kind == "A")
        self._token = i
        v = self.values[i]
        room = self.bar_ticks - bar_tick
        if v.ticks > room:          # only when no token is short enough to fit
            v = Value(v.kind, room, v.lo, v.hi)
        self._last_value_kind = v.kind
        return v

    # ---- realisation ----------------------------------------------------------------

    def realize(self, value, chord, bar_tick):
        """The pitch for `value` against `chord` (sounding now), or None for a rest."""
        kind = value.kind
        if kind == "R" or not chord or not self.enabled:
            self._rest_ticks += value.ticks
            if self._rest_ticks >= TPQ:
                self._phrase_start = True
            return None
        new_chord = chord.symbol != self._prev_symbol
        prev = self._prev_pitch
        pitch = None
        if new_chord and self.resolve_on_change and kind in ("A", "X"):
            kind = "C"
        if self._prev_kind == "A" and prev is not None and not self._phrase_start:
            pitch = self._resolution(prev, chord)
            if pitch is not None:
                kind = "C"
        if pitch is None:
            if self._phrase_start:
                value = Value(kind, value.ticks, None, None)
            elif kind != value.kind:
                value = Value(kind, value.ticks, value.lo, value.hi)
            pitch = unparse_realize(value, prev, chord, self.low, self.high,
                                    self._pitch_rng, self.max_repeats, self._repeats)
            if pitch is None:
                return None
        self._repeats = self._repeats + 1 if pitch == prev else 1
        self._prev_pitch = pitch
        self._prev_kind = kind
        self._prev_symbol = chord.symbol
        self._rest_ticks = 0
        self._phrase_start = False
        return pitch

    def _resolution(self, prev, chord):
        """A chord tone 1-2 semitones from `prev` in the register, or None: the nearer
        first, and up before down (a leading tone resolves up)."""
        tones = chord.tones
        for d in (1, -1, 2, -2):
            p = prev + d
            if self.low <= p <= self.high and tones >> (p % 12) & 1:
                return p
        return None

    def velocity(self, bar_tick):
        """MIDI velocity: the top of the range on beats 1 and 3, less on the other
        beats, less again on the off-beat eighths, the bottom for the notes between
        (sixteenths, triplets), which a horn player ghosts."""
        t = bar_tick % self.bar_ticks
        if t in self._strong:
            w = 1.0
        elif t % TPQ == 0:
            w = 0.7
        elif t % TPQ == TPQ // 2:
            w = 0.45
        else:
            w = 0.0
        return int(round(self.velocity_low + w * (self.velocity_high - self.velocity_low)))

    def end_phrase(self):
        """The music stopped: the next note starts a new phrase (no interval window).
        The LSTM state is not reset."""
        self._phrase_start = True
        self._last_value_kind = None
        self._prev_kind = None

    @property
    def phrase_start(self):
        return self._phrase_start


def load_performer(cfg, seed=None):
    """A Performer over the model named by `cfg["improviser"]["model"]`."""
    from jazzd.model.store import load_model
    return Performer(load_model(cfg["improviser"]["model"]), cfg, seed=seed)
