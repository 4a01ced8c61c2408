"""The improviser core: planning (LSTM + style), late realisation, phrases, velocity.

Most tests run on a small model directory written here with random weights (a real
model, loaded by the real loader), so they do not depend on what the shipped model
learned; the last ones use the shipped default model.
"""


import numpy as np
import pytest

from jazzd.service import config
from jazzd.model.store import DEFAULT_DIR, load_model, save_model
from jazzd.model.performer import Performer, load_performer
from jazzd.grammar import features
from jazzd.grammar.chords import NO_CHORD, parse_symbol
from jazzd.grammar.values import Value, classify, format_value

C7, F7, DM7, G7 = (parse_symbol(s) for s in ("C7", "F7", "Dm7", "G7"))


def _tokens():
    toks = ["<s>"]
    for kind in "CSAX":
        for ticks in (3, 4, 6, 8, 12, 18, 24):
            for lo in (-7, -4, -1, 2):
                toks.append(format_value(Value(kind, ticks, lo, lo + 6)))
            toks.append(format_value(Value(kind, ticks)))
    toks += [format_value(Value("R", t)) for t in (3, 6, 12, 24, 48)]
    return toks


def _write(path, cond_width=0):
    toks = _tokens()
    V, E, U = len(toks), 8, 16
    r = np.random.default_rng(0)
    w = dict(embedding=r.normal(0, .5, (V, E)),
             lstm_kernel=r.normal(0, .5, (E + cond_width, 4 * U)),
             lstm_recurrent=r.normal(0, .5, (U, 4 * U)), lstm_bias=np.zeros(4 * U),
             dense_kernel=r.normal(0, .5, (U, V)), dense_bias=np.zeros(V))
    meta = {"variant": "conditioned" if cond_width else "plain"}
    if cond_width:
        meta["condition"] = features.SPEC
    save_model(path, w, toks, meta)
    return load_model(path)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def cond_model(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("cond"), features.WIDTH)


def cfg(**sections):
    c = config.defaults()
    for sec, kv in sections.items():
        c[sec].update(kv)
    return config.validate(c)


def run(perf, timeline, bars, realize=True):
    """The daemon's loop in ticks: [(tick, value, chord, pitch)]."""
    out, tick = [], 0
    bar = perf.bar_ticks
    while tick < bars * bar:
        chord = timeline(tick)
        v = perf.next_value(tick % bar, chord)
        p = perf.realize(v, chord, tick % bar) if realize else None
        out.append((tick, v, chord, p))
        tick += v.ticks
    return out


def two_five(tick):
    """Dm7 G7 | Cmaj7-less: Dm7 for two beats, G7 for two, C7 for a bar, looping."""
    t = tick % 96
    return DM7 if t < 24 else G7 if t < 48 else C7


# ---- planning ---------------------------------------------------------------------

def test_values_never_cross_the_bar_line(model):
    perf = Performer(model, cfg(), seed=1)
    ends = set()
    for tick, v, _, _ in run(perf, two_five, 64):
        assert v.ticks > 0
        assert tick % 48 + v.ticks <= 48, (tick, v)
        ends.add((tick + v.ticks) % 48)
    assert 0 in ends


def test_same_seed_same_performance_other_seed_other(model):
    a = run(Performer(model, cfg(), seed=5), two_five, 16)
    b = run(Performer(model, cfg(), seed=5), two_five, 16)
    c = run(Performer(model, cfg(), seed=6), two_five, 16)
    assert a == b
    assert [x[1] for x in a] != [x[1] for x in c]


def test_seed_from_config_and_random_when_null(model):
    assert Performer(model, cfg(improviser={"seed": 42})).seed == 42
    assert Performer(model, cfg(improviser={"seed": 42}), seed=3).seed == 3
    seeds = {Performer(model, cfg()).seed for _ in range(3)}
    assert len(seeds) == 3


def test_values_do_not_depend_on_when_pitches_are_realised(model):
    """The daemon plans a beat ahead; generate realises at once: same values."""
    a = Performer(model, cfg(), seed=9)
    b = Performer(model, cfg(), seed=9)
    va = [x[1] for x in run(a, two_five, 8)]
    vb, tick = [], 0
    while tick < 8 * 48:
        v = b.next_value(tick % 48, two_five(tick))
        vb.append(v)
        tick += v.ticks
    assert va == vb


def test_the_lstm_state_is_carried_and_never_reset(model):
    perf = Performer(model, cfg(), seed=1)
    run(perf, two_five, 4)
    h = perf.lstm.h.copy()
    assert np.any(h != 0)
    perf.end_phrase()
    assert np.array_equal(perf.lstm.h, h)        # a phrase end keeps the state
    # bar 5 played after bars 1-4 differs from bar 5 played from a fresh state
    fresh = Performer(model, cfg(), seed=1)
    fresh.lstm.reset()
    logits_carried = perf.lstm.step(perf._token).copy()
    logits_fresh = fresh.lstm.step(perf._token).copy()
    assert not np.allclose(logits_carried, logits_fresh)


def test_conditioned_models_get_the_condition_of_the_onset(cond_model):
    perf = Performer(cond_model, cfg(), seed=2)
    out = run(perf, two_five, 8)
    assert len(out) > 8
    assert perf._cond.shape == (features.WIDTH,)
    assert np.array_equal(np.flatnonzero(perf._cond),
                          sorted(features.condition_index(out[-1][0] % 48, out[-1][2])))


def test_kind_weights_shape_what_is_played(model):
    only_c = cfg(style={"kind_weights": {"S": 0, "A": 0, "X": 0}, "rest_probability": 0.0})
    out = run(Performer(model, only_c, seed=1), two_five, 16)
    kinds = {v.kind for _, v, _, _ in out}
    assert kinds == {"C"}
    for _, _, chord, p in out:
        assert classify(p, chord) == "C"


def test_density_overrides_the_rest_probability(model):
    perf = Performer(model, cfg(style={"rest_probability": 0.2}), seed=1)
    perf.density = 1.0
    out = run(perf, two_five, 4)
    assert all(v.kind == "R" for _, v, _, _ in out)
    perf.density = 0.0
    out = run(perf, two_five, 4)
    assert not any(v.kind == "R" for _, v, _, _ in out)


def test_an_approach_value_is_never_followed_by_a_rest(model):
    c = cfg(style={"kind_weights": {"A": 20}, "rest_probability": 0.5})
    out = run(Performer(model, c, seed=4), two_five, 64, realize=False)
    pairs = [(a[1].kind, b[1].kind) for a, b in zip(out, out[1:])]
    assert ("A", "R") not in pairs
    assert ("A", "A") in pairs and ("C", "R") in pairs


# ---- realisation --------------------------------------------------------------------

def fresh(model, **imp):
    return Performer(model, cfg(improviser=imp), seed=1)


def test_pitches_stay_in_the_register(model):
    perf = Performer(model, cfg(improviser={"lowest_note": 60, "highest_note": 74}), seed=3)
    pitches = [p for *_, p in run(perf, two_five, 64) if p is not None]
    assert pitches and min(pitches) >= 60 and max(pitches) <= 74


def test_the_first_note_on_a_new_chord_is_never_an_a_or_x_tone(model):
    perf = fresh(model)
    perf.realize(Value("C", 6), C7, 0)
    for kind in ("A", "X"):
        for chord in (F7, C7, F7, G7):
            p = perf.realize(Value(kind, 6, -3, 3), chord, 0)
            assert classify(p, chord) == "C"
            p = perf.realize(Value("S", 6, -3, 3), chord, 6)   # same chord: no rewrite
            assert classify(p, chord) == "S"


def test_without_resolve_on_change_an_outside_note_may_start_a_chord(model):
    perf = fresh(model, resolve_on_change=False)
    perf.realize(Value("C", 6), C7, 0)
    p = perf.realize(Value("X", 6, -6, 6), F7, 0)
    assert classify(p, F7) in ("A", "X")     # F7 has no X pitch class: X falls back to A


def test_an_approach_tone_resolves_by_step_to_a_chord_tone(model):
    for seed in range(20):
        perf = Performer(model, cfg(), seed=seed)
        perf.realize(Value("C", 6), C7, 0)
        a = perf.realize(Value("A", 6, -4, 4), C7, 6)
        assert classify(a, C7) == "A"
        nxt = perf.realize(Value("S", 6, 3, 7), C7, 12)
        assert classify(nxt, C7) == "C" and 1 <= abs(nxt - a) <= 2, (seed, a, nxt)


def test_an_approach_into_a_change_resolves_on_the_new_chord(model):
    perf = fresh(model)
    perf.realize(Value("C", 6), C7, 36)
    a = perf.realize(Value("A", 6, -3, 3), C7, 42)
    nxt = perf.realize(Value("X", 12, 3, 7), F7, 0)
    assert classify(nxt, F7) == "C" and abs(nxt - a) <= 2


def test_a_phrase_restarts_near_where_the_last_one_ended(model):
    perf = fresh(model)
    last = perf.realize(Value("C", 6), C7, 0)
    assert perf.realize(Value("R", 12), C7, 6) is None
    assert perf.phrase_start
    # the window says "a ninth up", but a new phrase has no window
    p = perf.realize(Value("C", 6, 13, 16), C7, 18)
    assert abs(p - last) <= 6
    # a short rest is no phrase end: the window holds
    perf.realize(Value("R", 3), C7, 24)
    assert not perf.phrase_start
    q = perf.realize(Value("C", 6, 3, 5), C7, 27)
    assert 3 <= q - p <= 5
    perf.end_phrase()
    assert perf.phrase_start


def test_no_pitch_three_times_in_a_row(model):
    perf = fresh(model, max_repeats=2)
    ps = [perf.realize(Value("C", 6, 0, 0), C7, 0) for _ in range(12)]
    assert all(not (a == b == c) for a, b, c in zip(ps, ps[1:], ps[2:]))


def test_rests_no_chord_and_disabled_give_none(model):
    perf = fresh(model)
    assert perf.realize(Value("R", 6), C7, 0) is None
    assert perf.realize(Value("C", 6), NO_CHORD, 0) is None
    perf.enabled = False
    assert perf.realize(Value("C", 6), C7, 0) is None
    perf.enabled = True
    assert perf.realize(Value("C", 6), C7, 0) is not None


def test_velocity_accents_beats_one_and_three(model):
    perf = Performer(model, cfg(improviser={"velocity_low": 50, "velocity_high": 110}), seed=1)
    v = [perf.velocity(t) for t in range(48)]
    assert v[0] == v[24] == 110
    assert 50 < v[6] == v[18] < v[12] == v[36] < 110
    assert v[3] == v[4] == v[8] == 50
    assert all(50 <= x <= 110 for x in v)


# ---- the shipped model ----------------------------------------------------------------

needs_default = pytest.mark.skipif(not (DEFAULT_DIR / "weights.npz").exists(),
                                   reason="no shipped default model yet")


@needs_default
def test_load_performer_plays_the_shipped_model():
    perf = load_performer(cfg(), seed=1)
    out = run(perf, two_five, 16)
    notes = [p for *_, p in out if p is not None]
    assert len(notes) > 16 and len(set(notes)) > 5
