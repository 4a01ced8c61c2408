"""Style controls: each logit bias does what its name says, on a hand-made vocabulary."""

import math
import random

import numpy as np
import pytest

from jazzd.service import config
from jazzd.model.style import NEG, Style, duration_ticks, nearest_key
from jazzd.grammar.values import DURATION_KEYS, Value

VALUES = [None,
          Value("C", 6, -3, 3), Value("C", 4, -3, 3), Value("C", 12, None, None),
          Value("S", 6, -3, 3), Value("S", 3, 0, 6), Value("A", 6, -2, 2),
          Value("X", 6, -5, 1), Value("R", 6), Value("R", 12), Value("R", 48),
          Value("C", 24, -4, 2), Value("S", 36, -1, 5)]
V = len(VALUES)
LOGITS = np.linspace(-1.0, 1.0, V).astype(np.float32)


NEUTRAL = {"kind_weights": {}, "duration_weights": {}, "strong_beat_chord_weight": 1.0,
           "rest_probability": None}


def style(**kw):
    """A Style with every control neutral except those given."""
    cfg = dict(NEUTRAL, **kw)
    return Style(VALUES, cfg, beats_per_bar=4)


def dist(st, tick=6, **kw):
    return st.distribution(LOGITS, tick, 1.0, **kw).copy()


def idx(kind, ticks=None):
    return [i for i, v in enumerate(VALUES)
            if v is not None and v.kind == kind and (ticks is None or v.ticks == ticks)]


def test_the_defaults_are_valid_and_not_neutral():
    d = config.defaults()["style"]
    assert config.validate({"style": d})["style"] == d
    st = Style(VALUES, d)
    assert not np.allclose(st.bias[6], style().bias[6])


def test_duration_keys():
    keys = [duration_ticks(k) for k in DURATION_KEYS]
    assert keys == [2, 3, 4, 6, 8, 9, 12, 18, 24, 36, 48]
    assert [nearest_key(t, keys) for t in (1, 2, 5, 7, 10, 15, 30, 54)] == \
        [2, 2, 4, 6, 9, 12, 24, 48]


def test_a_full_set_of_duration_weights_covers_every_token():
    odd = VALUES + [Value("C", 1, -3, 3), Value("C", 54, None, None)]
    cfg = dict(NEUTRAL, duration_weights={d: (1 if d == "1/2" else 0) for d in DURATION_KEYS})
    st = Style(odd, cfg)
    p = st.distribution(np.zeros(len(odd)), 0, 1.0)
    assert {odd[i].ticks for i in np.flatnonzero(p)} == {6}


def test_neutral_style_is_the_softmax_of_the_model():
    st = style()
    p = dist(st, tick=6)                  # tick 6: every token of <= 42 ticks fits
    x = np.exp(LOGITS.astype(float))
    x[0] = 0.0                            # "<s>" is never sampled
    x[10] = 0.0                           # R 48 would cross the bar line
    assert p == pytest.approx(x / x.sum())


def test_kind_weight_multiplies_probability():
    base = dist(style(kind_weights={}))
    st = style(kind_weights={"S": 3.0, "X": 0.0})
    p = dist(st)
    s, c = idx("S")[0], idx("C")[0]
    assert (p[s] / p[c]) / (base[s] / base[c]) == pytest.approx(3.0)
    assert all(p[i] == 0.0 for i in idx("X"))
    assert sum(p) == pytest.approx(1.0)


def test_duration_weight_multiplies_probability():
    base = dist(style())
    p = dist(style(duration_weights={"1/3": 4.0, "1/4": 0.0}))
    trip, eighth = VALUES.index(Value("C", 4, -3, 3)), VALUES.index(Value("C", 6, -3, 3))
    assert (p[trip] / p[eighth]) / (base[trip] / base[eighth]) == pytest.approx(4.0)
    assert p[VALUES.index(Value("S", 3, 0, 6))] == 0.0


def test_strong_beat_chord_weight_only_on_beats_one_and_three():
    st = style(strong_beat_chord_weight=5.0)
    neutral = style()
    c, s = idx("C")[0], idx("S")[0]
    for tick, expect in ((0, 5.0), (24, 5.0), (12, 1.0), (36, 1.0), (6, 1.0), (30, 1.0)):
        p, b = dist(st, tick), dist(neutral, tick)
        assert (p[c] / p[s]) / (b[c] / b[s]) == pytest.approx(expect), tick


def test_tokens_that_would_cross_the_bar_line_are_masked():
    st = style()
    for tick in range(46):                # from 46 on, no token fits (see the next test)
        p = dist(st, tick)
        for i, v in enumerate(VALUES):
            if v is not None and v.ticks > 48 - tick:
                assert p[i] == 0.0, (tick, v)
        assert sum(p) == pytest.approx(1.0)
    # at tick 42 only the 6-tick tokens and the 3- and 4-tick ones remain
    p = dist(st, 42)
    assert {VALUES[i].ticks for i in np.flatnonzero(p)} == {3, 4, 6}


def test_when_nothing_fits_the_shortest_token_is_used():
    st = style()
    rng = random.Random(1)
    for tick in (46, 47):                 # 2 or 1 ticks left, the shortest token is 3
        assert not st.any_fits[tick]
        assert VALUES[st.sample(LOGITS, tick, 1.0, rng)] == Value("S", 3, 0, 6)
        assert dist(st, tick)[VALUES.index(Value("S", 3, 0, 6))] == 1.0
    assert st.any_fits[45]


def test_rest_probability_sets_the_rest_mass():
    for p_rest in (0.0, 0.1, 0.5, 1.0):
        p = dist(style(rest_probability=p_rest))
        assert sum(p[i] for i in idx("R")) == pytest.approx(p_rest)
    # the live density control overrides the configured value
    p = dist(style(rest_probability=0.1), rest_probability=0.4)
    assert sum(p[i] for i in idx("R")) == pytest.approx(0.4)


def test_no_rest_after_an_approach():
    p = dist(style(rest_probability=0.5), no_rest=True)
    assert sum(p[i] for i in idx("R")) == 0.0 and sum(p) == pytest.approx(1.0)


def test_temperature_flattens_and_sharpens():
    st = style()
    hot = st.distribution(LOGITS, 6, 5.0).copy()
    cold = st.distribution(LOGITS, 6, 0.1).copy()
    ent = lambda p: -sum(x * math.log(x) for x in p if x > 0)
    assert ent(hot) > ent(dist(st)) > ent(cold)


def test_sampling_is_seeded_and_follows_the_distribution():
    st = style(kind_weights={"X": 0.0}, rest_probability=0.2)
    a = [st.sample(LOGITS, 6, 1.0, random.Random(7)) for _ in range(3)]
    r1, r2 = random.Random(3), random.Random(3)
    s1 = [st.sample(LOGITS, 6, 1.0, r1) for _ in range(200)]
    s2 = [st.sample(LOGITS, 6, 1.0, r2) for _ in range(200)]
    assert s1 == s2 and len(set(a)) == 1
    rng = random.Random(11)
    n = 20000
    counts = np.bincount([st.sample(LOGITS, 6, 1.0, rng) for _ in range(n)], minlength=V)
    p = dist(st)
    assert counts[0] == 0 and all(counts[i] == 0 for i in idx("X"))
    # every token within 5 standard deviations of its expected count
    sd = np.sqrt(n * p * (1 - p)) + 1
    assert np.all(np.abs(counts - n * p) <= 5 * sd)


def test_distribution_reuses_its_buffer():
    st = style(rest_probability=0.3)
    a = st.distribution(LOGITS, 6, 1.0)
    b = st.distribution(LOGITS, 12, 1.0)
    assert a is b
    assert st.bias.shape == (48, V) and st.bias[0][0] == NEG
