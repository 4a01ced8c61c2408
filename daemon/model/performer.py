"""The improviser core shared by `jazzd generate` and `jazzd run`.

Two decisions per note, made at two different times (docs/MUSIC.md, "From a value to
a note"):

- `next_value(bar_tick, chord)`, ahead of time: one step of the stateful network (its
  state carried across every call and never reset while running), then its three
  heads drawn in turn (kind, duration, step) under the style's biases, the motif
  memory's proposal and the temperature, with a seeded RNG. The value's pitch is
  planned too, against the chord expected there, because the next step is
  conditioned on where the line stands against its chord.
- `realize(value, chord, bar_tick)`, just before the onset: the pitch against the
  chord sounding *now* (`jazzd.grammar.unparse.realize`): the planned step when it
  gives a pitch of the value's kind, else the nearest pitch of that kind.

What the old grammar forced (an approach tone resolving by step, a chord tone on the
change, no rest after an approach) the model now learns from the corpus; only
`improviser.resolve_on_change` remains, as an option (off by default).

Values and pitches come from two RNGs derived from one seed, so the sequence of values
does not depend on how far ahead the caller plans before realising.

Trading (docs/LIVE.md, "Trading"): `hear(pitch, ticks, tick, chord)` feeds the player's
line through the same network, one value at a time, with the player's tokens and
condition and no draw, so the state moves with what the player plays; the line's
previous pitch and chord become the player's, and the motif memory records the
player's notes too. The values heard since jazzd last played are the *call*; the next
`next_value` begins the answer, which follows the call note by note with the weight
`echo` (its rhythm and its intervals, sequenced from where jazzd is; each pitch still
bound late against the chord then). Nothing of this runs unless `hear` is called.
"""

import math
import random

import numpy as np

from jazzd.grammar.features import TEMPO_REF, condition_into
from jazzd.grammar.pitch import TPQ
from jazzd.grammar.unparse import realize as unparse_realize
from jazzd.grammar.values import Value, classify, fold_step, kind_mask, stepped
from jazzd.model.motif import MotifMemory
from jazzd.model.network import Network
from jazzd.model.style import Style, draw, strong_ticks


def new_seed():
    """A random seed, for `seed: null` (a different performance each run)."""
    return random.SystemRandom().randrange(2 ** 63)


class Performer:
    """Plans values with the network + style and realises them as pitches, one at a time.

    `cfg` is the validated config dict; `seed` overrides `improviser.seed`.
    Not thread-safe: one thread owns it (the improviser thread, or generate's loop).
    """

    def __init__(self, model, cfg, seed=None):
        imp = cfg["improviser"]
        self.model = model
        self.beats_per_bar = cfg["tempo"]["beats_per_bar"]
        self.bar_ticks = self.beats_per_bar * TPQ
        self.net = Network(model)
        self.kinds = model.kinds
        self.durations = model.durations
        self.steps = model.steps
        self._step_index = {s: i for i, s in enumerate(self.steps)}
        self._kind_index = {k: i for i, k in enumerate(self.kinds)}
        self._tense = [k in ("A", "X") for k in self.kinds]
        self.rest = model.rest
        self.set_style(cfg["style"])
        if seed is None:
            seed = imp.get("seed")
        self.seed = new_seed() if seed is None else int(seed)
        self._value_rng = random.Random(f"jazzd-values-{self.seed}")
        self._pitch_rng = random.Random(f"jazzd-pitches-{self.seed}")

        self.enabled = True
        self.density = None
        self.retune(imp)
        self._strong = strong_ticks(self.beats_per_bar)
        self._cond = np.zeros(model.C, np.float32)
        self._tempo = np.zeros(2)    # the condition's tempo features (set_tempo)
        self.bpm = None
        self.set_tempo(cfg["tempo"]["bpm"])
        self._since = None           # ticks from the planned phrase's first onset
        self._q = {n: np.zeros(n) for n in (model.K, model.D, model.S)}
        self._cum = {n: np.zeros(n) for n in (model.K, model.D, model.S)}
        self._allowed = {}           # (kind mask, previous pitch class) -> steps that fit
        self._present = {}           # chord -> which kinds have a pitch over it

        # planning: the previous value as token indices (0 = nothing), and the line
        self._tokens = (0, 0, 0)
        self._plan_pitch = None      # the pitch planned for the last planned note
        self._plan_repeats = 0       # how many times in a row it is planned to sound
        self._plan_chord = None      # the chord expected at the last planned onset
        # realisation: what actually sounded
        self._prev_pitch = None
        self._repeats = 0
        self._prev_symbol = None
        # trading: the call being heard, and the answer that follows it
        self.echo = 0.0              # weight of the call's proposal while answering
        self._speaking = True        # jazzd played last (a `hear` starts a new call)
        self._call = []              # the values heard since: (kind, dur, step index)
        self._call_offset = 0        # octaves that bring the call next to jazzd's line
        self._call_prev = None       # the previous heard pitch (offset), for its steps
        self._echo = None            # the call the current answer follows, or None
        self._echo_pos = 0           # ... the call's value the next one is matched with
        self._following = True       # the last value took the call's up
        self._dur_index = {}         # ticks -> the nearest duration of the vocabulary
        self._max_step = max(abs(s) for s in self.steps) if self.steps else 0

    def build_style(self, style_cfg):
        """The bias tables of a `style` section for this model (raises on a bad one)."""
        return Style(self.model.kinds, self.model.durations, style_cfg,
                     self.beats_per_bar, self.model.steps)

    def set_style(self, style_cfg, style=None):
        """Style biases and motif weight (a reload keeps the network's state); `style`
        is the section's tables when they were built already (build_style)."""
        self.style = style if style is not None else self.build_style(style_cfg)
        self.motif_weight = float(style_cfg.get("motif", 0.0) or 0.0)
        if not hasattr(self, "motif"):
            self.motif = MotifMemory()

    def retune(self, imp):
        """The `improviser` section's playing settings: temperature, register, repeats,
        resolution and velocities (a reload keeps the network's state)."""
        self.temperature = float(imp["temperature"])
        self.set_register(imp["lowest_note"], imp["highest_note"])
        self.max_repeats = imp["max_repeats"]
        self.resolve_on_change = imp["resolve_on_change"]
        self.velocity_low, self.velocity_high = imp["velocity_low"], imp["velocity_high"]

    def set_register(self, low, high):
        self.low, self.high = low, high
        self.middle = (low + high) // 2

    def set_tempo(self, bpm):
        """The tempo the line is played at, from the next `next_value` or `hear` on (the
        network's state is kept): the condition's tempo features. Cheap enough to call
        before every step (the live improviser calls it with the clock's tempo on every
        pass); the same tempo again does nothing, and nothing is allocated but the two
        floats. A tempo that is not a positive finite number is ignored."""
        if bpm == self.bpm or not 0 < bpm < math.inf:
            return
        self.bpm = bpm
        self._tempo[0] = math.log2(bpm / TEMPO_REF)
        self._tempo[1] = 60.0 / bpm

    # ---- planning -------------------------------------------------------------------

    def next_value(self, bar_tick, chord, no_rest=False):
        """The value whose onset is at `bar_tick` (ticks into the bar), over `chord`
        (the best guess of the chord there). `no_rest`: a note, not a rest (the first
        value of a turn or an answer, which must start on time)."""
        bar_tick %= self.bar_ticks
        if not self._speaking:
            self._begin_answer()
        T = self.temperature
        style = self.style
        cond = condition_into(self._cond, bar_tick, chord, self.beats_per_bar,
                              self._plan_pitch, self.middle, chord != self._plan_chord,
                              self._since, self._tempo)
        net = self.net
        net.advance(*self._tokens, cond)
        cands = self._candidates(chord) if self.motif_weight > 0 else None
        echo = self._echo_candidates(chord) if self._echo and self.echo > 0 else None

        after_a = self._tokens[0] - 1 == style.approach
        p = style.kind_distribution(net.kind_logits(), bar_tick, T, self.density, after_a)
        if no_rest and p[self.rest] < 1.0:
            p[self.rest] = 0.0
            p /= p.sum()
        self._keep_kinds(p, chord)
        k = self._draw(p, cands, 0, None, echo)
        p = style.dur_distribution(net.dur_logits(k), T, bar_tick)
        d = self._draw(p, cands, 1, lambda c: c[0] == k, echo)
        ticks = self.durations[d]
        kind = self.kinds[k]
        s = None
        if k != self.rest and self._plan_pitch is not None:
            p = style.step_distribution(net.step_logits(k, d), T,
                                        after_a and kind == "C")
            self._keep_kind(p, kind, chord)
            s = self._draw(p, cands, 2, lambda c: c[0] == k and c[1] == d, echo) \
                if cands and any(c[0] == k and c[1] == d for c in cands) \
                else self._draw(p, cands, 2, lambda c: c[0] == k, echo)
        if echo is not None:
            self._echo_next(echo[0], k, s)
        self._tokens = (k + 1, d + 1, 0 if s is None else s + 1)
        self._plan_chord = chord
        if k == self.rest:
            self._since = None
            self.motif.rest()
            return Value("R", ticks)
        self._since = (self._since or 0) + ticks
        step = None if s is None else self.steps[s]
        value = stepped(kind, ticks, step)
        planned = unparse_realize(value, self._plan_pitch, chord, self.low, self.high,
                                  self._pitch_rng_plan(), self.max_repeats,
                                  self._plan_repeats) if chord else None
        if planned is not None:
            self._plan_repeats = self._plan_repeats + 1 if planned == self._plan_pitch else 1
            self._plan_pitch = planned
        self.motif.note(d, s, k)
        return value

    def _keep_kinds(self, p, chord):
        """Zero the kinds that have no pitch over `chord` (X over a dominant seventh,
        whose scale and approach tones cover all twelve): the grammar would have to
        play another kind instead."""
        if not chord:
            return
        present = self._present.get(chord)
        if present is None:
            present = np.array([k == "R" or kind_mask(k, chord) != 0 for k in self.kinds],
                               float)
            if len(self._present) > 1024:
                self._present.clear()
            self._present[chord] = present
        total = float(np.dot(p, present))
        if 0 < total < 1.0:
            np.multiply(p, present, out=p)
            p /= total

    def _keep_kind(self, p, kind, chord):
        """Zero the steps that would land on a pitch of another kind than the one
        drawn (against the chord expected there), so the three heads agree and the
        plan is a line the grammar will keep; left alone if no step fits."""
        if not chord:
            return
        key = (kind_mask(kind, chord), self._plan_pitch % 12)
        allowed = self._allowed.get(key)
        if allowed is None:
            mask, r = key
            allowed = np.array([mask >> ((r + s) % 12) & 1 for s in self.steps], float)
            if len(self._allowed) > 4096:
                self._allowed.clear()
            self._allowed[key] = allowed
        total = float(np.dot(p, allowed))
        if total <= 0:
            return
        np.multiply(p, allowed, out=p)
        zero = self._step_index.get(0)
        if zero is not None and self._plan_repeats >= self.max_repeats and p[zero] < total:
            total -= p[zero]                     # a further repeat would be moved anyway
            p[zero] = 0.0
        p /= total

    def _pitch_rng_plan(self):
        # Planning must not consume the realisation RNG (the result would then depend
        # on how far ahead the caller plans): it gets its own stream.
        rng = getattr(self, "_plan_rng", None)
        if rng is None:
            rng = self._plan_rng = random.Random(f"jazzd-plan-{self.seed}")
        return rng

    def _candidates(self, chord):
        """The motif memory's proposal as [(kind index, dur index, step index, w)],
        each note's kind judged where it would land against `chord`. A copy that would
        turn a chord or scale tone into an approach or outside tone (or back) is left
        out: a figure sequenced onto other harmony lands on the chromatic notes far
        more often than the model itself plays them (measured: approach tones 0.26 of
        the notes with the copies, 0.21 without them and in the corpus)."""
        prop = self.motif.propose()
        if not prop or self._plan_pitch is None or not chord:
            return None
        out = []
        low, high = self.low, self.high
        tense = self._tense
        for d, s, k0, w in prop:
            if s is None:
                continue
            target = self._plan_pitch + self.steps[s]
            while target > high and target - 12 >= low:
                target -= 12
            while target < low and target + 12 <= high:
                target += 12
            k = self._kind_index[classify(target, chord)]
            if k0 is not None and tense[k] != tense[k0]:
                continue
            out.append((k, d, s, w))
        return out or None

    def _draw(self, p, cands, slot, keep, echo=None):
        """Draw from head distribution `p`, first mixing in the motif proposal's
        marginal on this head (`slot` 0 kind, 1 duration, 2 step) over the candidates
        that agree with what was drawn so far (`keep`), then the call's (`echo`, while
        answering)."""
        if cands:
            self._mix(p, cands, slot, keep, self.motif_weight)
        if echo:
            # the call's next value, whatever was drawn before it: a step of it that
            # lands on another kind than the one drawn has probability 0 here already
            self._mix(p, echo, slot, None,
                      self._echo_hold if self._following else self.echo)
        return draw(p, self._value_rng, self._cum[len(p)])

    def _mix(self, p, cands, slot, keep, weight):
        q = self._q[len(p)]
        q.fill(0.0)
        for c in cands:                  # never what the style or the chord forbids
            if (keep is None or keep(c)) and c[slot] is not None and p[c[slot]] > 0:
                q[c[slot]] += c[3]
        total = q.sum()
        if total > 0:
            q *= weight / total
            p *= 1.0 - weight
            p += q

    # ---- hearing (trading) ----------------------------------------------------------

    def hear(self, pitch, ticks, tick, chord):
        """The player's next value: a note of `pitch` (None: a rest) whose onset is at
        `tick` (into the bar or from bar 1), lasting `ticks` to the next onset, over
        `chord` (sounding at its onset). One network step with the player's tokens and
        the condition of its onset, as training reads a solo; nothing is drawn. The
        line continues from it: the next step's previous value, pitch and chord are the
        player's. Returns the value heard."""
        if self._speaking:
            self._new_call()
        bar_tick = tick % self.bar_ticks
        cond = condition_into(self._cond, bar_tick, chord, self.beats_per_bar,
                              self._plan_pitch, self.middle, chord != self._plan_chord,
                              self._since, self._tempo)
        self.net.advance(*self._tokens, cond)
        d = self._nearest_duration(ticks)
        s = None
        if pitch is None:
            k = self.rest
            self._since = None
            self.motif.rest()
            value = Value("R", ticks)
        else:
            if self._call_prev is None:        # the call's first note: near the line
                ref = self._plan_pitch if self._plan_pitch is not None else self.middle
                self._call_offset = 12 * round((ref - pitch) / 12)
            heard = pitch + self._call_offset
            kind = classify(pitch, chord)
            k = self._kind_index[kind]
            before = self._call_prev if self._call_prev is not None else self._plan_pitch
            step = None
            if before is not None:
                step = fold_step(heard - before, self._max_step)
                s = self._step_index.get(step)
            self._call_prev = heard
            here = self._in_register(heard)
            self._plan_repeats = self._plan_repeats + 1 if here == self._plan_pitch else 1
            self._repeats = self._repeats + 1 if here == self._prev_pitch else 1
            self._plan_pitch = self._prev_pitch = here
            self._prev_symbol = chord.symbol
            self.motif.note(d, s)
            self._since = (self._since or 0) + ticks
            value = stepped(kind, ticks, step)
        self._tokens = (k + 1, d + 1, 0 if s is None else s + 1)
        self._plan_chord = chord
        self._call.append((k, d, s))
        return value

    def _new_call(self):
        self._speaking = False
        self._call = []
        self._call_offset = 0
        self._call_prev = None

    def _begin_answer(self):
        """jazzd plays again after hearing: the call it heard is what it answers (its
        notes from the first to the last; the call's first step, from what came
        before it, is not part of the figure)."""
        self._speaking = True
        call = self._call
        i, j = 0, len(call)
        while i < j and call[i][0] == self.rest:
            i += 1
        while j > i and call[j - 1][0] == self.rest:
            j -= 1
        self._echo = [(k, d, None if n == i else s) for n, (k, d, s) in
                      enumerate(call[i:j], i)] or None
        self._echo_pos = 0
        self._following = True

    @property
    def _echo_hold(self):
        # Once the answer has taken a note of the call up, it holds on to the figure
        # more firmly: sqrt(echo) > echo, so a figure is restated as a run of notes
        # rather than notes scattered through the model's own line.
        return self.echo ** 0.5

    def _echo_next(self, cand, k, s):
        """After a value of the answer: the call's next value is matched with the next
        one, if this one took the call's up; if it took another step of the call's
        (the model's own way into the figure), the call carries on from there."""
        call, pos = self._echo, self._echo_pos
        self._following = k == cand[0] and (cand[2] is None or s == cand[2])
        if not self._following and s is not None:
            n = len(call)
            for j in range(1, n + 1):
                if call[(pos + j) % n][2] == s:
                    pos += j
                    self._following = True
                    break
        self._echo_pos = pos + 1

    def _echo_candidates(self, chord):
        """The call's value matched with the one being planned, as a one-candidate
        proposal (kind index, dur index, step index or None, weight): a note's kind is
        judged where its step would land from jazzd's line, against `chord`."""
        k, d, s = self._echo[self._echo_pos % len(self._echo)]
        if k != self.rest and s is not None and self._plan_pitch is not None and chord:
            target = self._in_register(self._plan_pitch + self.steps[s])
            k = self._kind_index[classify(target, chord)]
        else:
            s = None
        return [(k, d, s, 1.0)]

    def _nearest_duration(self, ticks):
        """The vocabulary's duration index for a heard length: itself, or the nearest
        (the shorter on a tie), as training maps a rare length (train/vocab.py)."""
        d = self._dur_index.get(ticks)
        if d is None:
            durs = self.durations
            d = min(range(len(durs)), key=lambda j: (abs(durs[j] - ticks), durs[j]))
            if len(self._dur_index) < 4096:
                self._dur_index[ticks] = d
        return d

    def _in_register(self, pitch):
        while pitch > self.high and pitch - 12 >= self.low:
            pitch -= 12
        while pitch < self.low and pitch + 12 <= self.high:
            pitch += 12
        return pitch

    # ---- realisation ----------------------------------------------------------------

    def realize(self, value, chord, bar_tick):
        """The pitch for `value` against `chord` (sounding now), or None for a rest."""
        kind = value.kind
        if kind == "R" or not chord or not self.enabled:
            return None
        prev = self._prev_pitch
        if self.resolve_on_change and chord.symbol != self._prev_symbol \
                and kind in ("A", "X"):
            value = value._replace(kind="C")
        pitch = unparse_realize(value, prev, chord, self.low, self.high, self._pitch_rng,
                                self.max_repeats, self._repeats)
        if pitch is None:
            return None
        self._repeats = self._repeats + 1 if pitch == prev else 1
        self._prev_pitch = pitch
        self._prev_symbol = chord.symbol
        return pitch

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
        """The music stopped and the planned values were dropped: the plan restarts
        from what actually sounded. The network's state is not reset."""
        self._plan_pitch = self._prev_pitch
        self._plan_repeats = self._repeats
        self._since = None           # the next onset begins a phrase
        self.motif.rest()


def load_performer(cfg, seed=None):
    """A Performer over the model named by `cfg["improviser"]["model"]`."""
    from jazzd.model.store import load_model
    return Performer(load_model(cfg["improviser"]["model"]), cfg, seed=seed)
