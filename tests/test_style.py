"""Style controls: each bias does what its name says, on the heads it concerns."""

import math
import random

import numpy as np
import pytest

from jazzd.grammar.values import DURATION_KEYS
from jazzd.model.style import NEG, Style, draw, duration_ticks, nearest_key
from jazzd.service import config

KINDS = ["C", "S", "A", "X", "R"]
DURS = [2, 3, 4, 6, 8, 12, 24, 48, 60]
KIND_LOGITS = np.array([0.5, 0.2, -0.1, -0.8, 0.0], np.float32)
DUR_LOGITS = np.linspace(-1.0, 1.0, len(DURS)).astype(np.float32)

NEUTRAL = {"kind_weights": {}, "duration_weights": {}, "strong_beat_chord_weight": 1.0,
           "rest_probability": None}


def style(**kw):
    """A Style with every control neutral except those given."""
    return Style(KINDS, DURS, dict(NEUTRAL, **kw), beats_per_bar=4)


def kinds(st, tick=6, temperature=1.0, **kw):
    return st.kind_distribution(KIND_LOGITS, tick, temperature, **kw).copy()


def durs(st, temperature=1.0):
    return st.dur_distribution(DUR_LOGITS, temperature).copy()


def softmax(x):
    e = np.exp(np.asarray(x, float) - max(x))
    return e / e.sum()


def test_the_defaults_are_valid():
    d = config.defaults()["style"]
    assert config.validate({"style": d})["style"] == d
    Style(KINDS, DURS, d)


def test_duration_keys():
    keys = [duration_ticks(k) for k in DURATION_KEYS]
    assert keys == [2, 3, 4, 6, 8, 9, 12, 18, 24, 36, 48]
    assert [nearest_key(t, keys) for t in (1, 2, 5, 7, 10, 15, 30, 54)] == \
        [2, 2, 4, 6, 9, 12, 24, 48]


def test_a_full_set_of_duration_weights_covers_every_length():
    st = style(duration_weights={d: (1 if d == "1/2" else 0) for d in DURATION_KEYS})
    p = st.dur_distribution(np.zeros(len(DURS)), 1.0)
    assert [DURS[i] for i in np.flatnonzero(p)] == [6]


def test_weights_that_forbid_every_length_are_ignored():
    st = style(duration_weights={d: 0 for d in DURATION_KEYS})
    assert durs(st) == pytest.approx(softmax(DUR_LOGITS))


def test_neutral_style_is_the_softmax_of_the_model():
    st = style()
    assert kinds(st) == pytest.approx(softmax(KIND_LOGITS))
    assert durs(st) == pytest.approx(softmax(DUR_LOGITS))
    step_logits = np.array([0.3, -1.0, 2.0])
    assert st.step_distribution(step_logits, 1.0) == pytest.approx(softmax(step_logits))


def test_kind_weight_multiplies_probability():
    base = kinds(style())
    p = kinds(style(kind_weights={"S": 3.0, "X": 0.0}))
    assert (p[1] / p[0]) / (base[1] / base[0]) == pytest.approx(3.0)
    assert p[3] == 0.0 and sum(p) == pytest.approx(1.0)


def test_colour_tone_weight_is_accepted_and_ignored():
    assert kinds(style(kind_weights={"L": 5.0})) == pytest.approx(kinds(style()))


def test_duration_weight_multiplies_probability():
    base = durs(style())
    p = durs(style(duration_weights={"1/3": 4.0, "1/4": 0.0}))
    trip, eighth = DURS.index(4), DURS.index(6)
    assert (p[trip] / p[eighth]) / (base[trip] / base[eighth]) == pytest.approx(4.0)
    assert p[DURS.index(3)] == 0.0


def test_lengths_between_keys_count_as_the_nearest_key():
    """60 ticks (five beats) counts as "4" (48), the longest key."""
    p = durs(style(duration_weights={"4": 0.0}))
    assert p[DURS.index(48)] == 0.0 and p[DURS.index(60)] == 0.0


def test_strong_beat_chord_weight_only_on_beats_one_and_three():
    st, neutral = style(strong_beat_chord_weight=5.0), style()
    for tick, expect in ((0, 5.0), (24, 5.0), (12, 1.0), (36, 1.0), (6, 1.0), (30, 1.0)):
        p, b = kinds(st, tick), kinds(neutral, tick)
        assert (p[0] / p[1]) / (b[0] / b[1]) == pytest.approx(expect), tick


def test_a_value_may_be_tied_over_the_bar_line():
    """Late in the bar every length stays possible: time runs on in ticks."""
    st = style()
    assert np.all(durs(st) > 0)
    assert st.kind_bias.shape == (48, 5)


def test_rest_probability_sets_the_rest_mass():
    for p_rest in (0.0, 0.1, 0.5, 1.0):
        p = kinds(style(rest_probability=p_rest))
        assert p[4] == pytest.approx(p_rest) and sum(p) == pytest.approx(1.0)
    # the live density control overrides the configured value
    p = kinds(style(rest_probability=0.1), rest_probability=0.4)
    assert p[4] == pytest.approx(0.4)


def test_rest_probability_keeps_the_notes_in_proportion():
    base, p = kinds(style()), kinds(style(rest_probability=0.5))
    assert p[0] / p[1] == pytest.approx(base[0] / base[1])


def test_temperature_flattens_and_sharpens():
    st = style()
    ent = lambda p: -sum(x * math.log(x) for x in p if x > 0)    # noqa: E731
    assert ent(kinds(st, temperature=5.0)) > ent(kinds(st)) > ent(kinds(st, temperature=0.1))
    assert ent(durs(st, 5.0)) > ent(durs(st)) > ent(durs(st, 0.1))


def test_sampling_is_seeded_and_follows_the_distribution():
    st = style(kind_weights={"X": 0.0}, rest_probability=0.2)
    cum = np.zeros(5)
    draws = lambda rng, n: [draw(st.kind_distribution(KIND_LOGITS, 6, 1.0), rng, cum)  # noqa
                            for _ in range(n)]
    assert draws(random.Random(3), 200) == draws(random.Random(3), 200)
    n = 20000
    counts = np.bincount(draws(random.Random(11), n), minlength=5)
    p = kinds(st)
    assert counts[3] == 0
    sd = np.sqrt(n * p * (1 - p)) + 1
    assert np.all(np.abs(counts - n * p) <= 5 * sd)


def test_distributions_reuse_their_buffers():
    st = style(rest_probability=0.3)
    assert st.kind_distribution(KIND_LOGITS, 6, 1.0) is st.kind_distribution(KIND_LOGITS, 12, 1.0)
    assert st.dur_distribution(DUR_LOGITS, 1.0) is st.dur_distribution(DUR_LOGITS, 0.5)
    assert style(kind_weights={"C": 0}).kind_bias[0][0] == NEG
