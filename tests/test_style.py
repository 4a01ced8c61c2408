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


# ---- onsets, intervals, resolution ----------------------------------------------------

STEPS = [-13, -12, -7, -2, -1, 0, 1, 2, 5, 12, 14]


def test_onset_weight_multiplies_the_lengths_that_land_there():
    """From the downbeat, a length of 6 ticks puts the next onset on the off-beat
    eighth ("1/2"); weighting that place by 3 triples those lengths alone."""
    base = style()
    st = style(onset_weights={"1/2": 3.0})
    p0 = base.dur_distribution(DUR_LOGITS, 1.0, 0).copy()
    p1 = st.dur_distribution(DUR_LOGITS, 1.0, 0).copy()
    ratio = (p1 / p1[DURS.index(8)]) / (p0 / p0[DURS.index(8)])
    for d, r in zip(DURS, ratio):
        assert r == pytest.approx(3.0 if d % 12 == 6 else 1.0, rel=1e-4), d


def test_a_length_that_would_leave_the_onset_grid_is_never_drawn():
    """From a sixteenth (3 ticks into the beat), 2 more ticks land on 5/12: no corpus
    onset is there, so that length has probability 0, whatever the logits."""
    st = style()
    p = st.dur_distribution(np.zeros(len(DURS)), 1.0, 3)
    assert p[DURS.index(2)] == 0.0
    assert p[DURS.index(3)] > 0.0                       # 3 + 3 = the off-beat eighth


def test_onset_weights_depend_on_where_the_value_starts():
    st = style(onset_weights={"0": 0.0})
    p_down = st.dur_distribution(np.zeros(len(DURS)), 1.0, 0)
    assert p_down[DURS.index(12)] == 0.0                # downbeat -> next downbeat
    p_off = st.dur_distribution(np.zeros(len(DURS)), 1.0, 6)
    assert p_off[DURS.index(6)] == 0.0 and p_off[DURS.index(12)] > 0


def test_interval_weight_multiplies_the_steps_of_its_size():
    neutral = Style(KINDS, DURS, NEUTRAL, 4, STEPS)
    st = Style(KINDS, DURS, dict(NEUTRAL, interval_weights={"0": 0, "13+": 2.0}), 4, STEPS)
    logits = np.zeros(len(STEPS), np.float32)
    p0 = neutral.step_distribution(logits, 1.0).copy()
    p = st.step_distribution(logits, 1.0).copy()
    assert p[STEPS.index(0)] == 0.0
    assert p[STEPS.index(14)] / p[STEPS.index(1)] == pytest.approx(2.0, rel=1e-5)
    assert p[STEPS.index(-13)] / p[STEPS.index(-12)] == pytest.approx(2.0, rel=1e-5)
    assert p0[STEPS.index(14)] / p0[STEPS.index(1)] == pytest.approx(1.0, rel=1e-5)


def test_resolve_approach_weighs_a_chord_tone_a_step_away_after_an_approach():
    st = Style(KINDS, DURS, dict(NEUTRAL, resolve_approach=2.0), 4, STEPS)
    after = st.kind_distribution(KIND_LOGITS, 6, 1.0, after_approach=True).copy()
    before = st.kind_distribution(KIND_LOGITS, 6, 1.0).copy()
    c, s = KINDS.index("C"), KINDS.index("S")
    assert (after[c] / after[s]) / (before[c] / before[s]) == pytest.approx(2.0, rel=1e-5)
    logits = np.zeros(len(STEPS), np.float32)
    res = st.step_distribution(logits, 1.0, resolving=True).copy()
    free = st.step_distribution(logits, 1.0).copy()
    for s_ in (-2, -1, 1, 2):
        assert res[STEPS.index(s_)] / res[STEPS.index(5)] == pytest.approx(2.0, rel=1e-5)
    assert free[STEPS.index(1)] == pytest.approx(free[STEPS.index(5)], rel=1e-5)


@pytest.mark.parametrize("key, bad", [("onset_weights", {"1/5": 1.0}),
                                      ("interval_weights", {"9": 1.0}),
                                      ("onset_weights", {"1/2": -1}),
                                      ("resolve_approach", "lots")])
def test_bad_style_weights_are_rejected_naming_the_key(key, bad):
    with pytest.raises(config.ConfigError, match=key):
        config.validate({"style": {key: bad}})
