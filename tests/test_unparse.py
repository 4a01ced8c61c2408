"""Unparsing one value at a time: the GRAMMAR.md rules and the seed bugs 2, 5, 6."""

import random

import pytest

from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.timeline import ChordTimeline
from jazzd.grammar.unparse import realize, realize_line
from jazzd.grammar.values import Value, classify, kind_mask

C = parse_symbol("C")
C7 = parse_symbol("C7")
CMAJ7 = parse_symbol("Cmaj7")
DM7 = parse_symbol("Dm7")
LOW, HIGH = 55, 84


def many(value, prev, chord, low=LOW, high=HIGH, n=300, **kw):
    rng = random.Random(7)
    return [realize(value, prev, chord, low, high, rng, **kw) for _ in range(n)]


def test_rest_and_no_chord_give_none():
    rng = random.Random(1)
    assert realize(Value("R", 12), 60, C7, LOW, HIGH, rng) is None
    assert realize(Value("C", 12, -3, 3), 60, NO_CHORD, LOW, HIGH, rng) is None


def test_candidates_are_of_the_kind_inside_the_window():
    got = set(many(Value("C", 3, -5, 1), 67, CMAJ7))      # from G: 62..68 holds E and G
    assert got == {64}                                     # G itself is left out
    got = set(many(Value("C", 3, -5, 5), 67, CMAJ7))       # 62..72 holds E, G, B, C
    assert got == {64, 71, 72}


def test_prev_is_left_out_when_there_is_another_choice():
    got = set(many(Value("C", 3, -5, 5), 60, C))
    assert got == {55, 64}


def test_prev_is_kept_when_it_is_the_only_choice_until_max_repeats():
    v = Value("C", 3, -1, 1)                     # only 60 itself in the window
    assert set(many(v, 60, C, repeats=1)) == {60}
    got = set(many(v, 60, C, repeats=2, max_repeats=2))
    assert 60 not in got and got == {64}         # nearest other C: E (4) beats G (5)


def test_empty_window_takes_the_nearest_pitch_of_the_kind():
    # A over Cmaj7 = {Db, Eb, F#, Ab, Bb}; window +4..+5 from C holds E and F only
    got = set(many(Value("A", 3, 4, 5), 60, CMAJ7))
    assert got == {61}                           # not "prev +- a whole step" (62/58)


def test_nearest_ties_follow_the_window_direction():
    # S over a C triad is D F A B; from G (67) F and A are both 2 away. The windows
    # below lie outside the register, so the nearest S is taken, on the window's side.
    assert set(many(Value("S", 3, 8, 14), 67, C, low=60, high=70)) == {69}
    assert set(many(Value("S", 3, -14, -8), 67, C, low=60, high=70)) == {65}


def test_seed_bug_5_approach_and_outside_tones_stay_themselves():
    for prev in range(LOW, HIGH + 1):
        for lo in range(-8, 4):
            v_a, v_x = Value("A", 3, lo, lo + 6), Value("X", 3, lo, lo + 6)
            a = realize(v_a, prev, C, LOW, HIGH, random.Random(prev * 31 + lo))
            x = realize(v_x, prev, C, LOW, HIGH, random.Random(prev * 37 + lo))
            assert classify(a, C) == "A"
            assert classify(x, C) == "X"


def test_seed_bug_6_scale_tones_come_from_the_classifying_scale():
    # the seeds classified with Dorian and generated from a blues scale; B natural is
    # Dorian's sixth and not in the blues scale, Ab is in the blues scale and not Dorian
    got = set()
    for prev in range(60, 75):
        got |= set(many(Value("S", 3, -6, 6), prev, DM7, n=50))
    assert all(classify(p, DM7) == "S" for p in got)
    assert {p % 12 for p in got} == {4, 7, 11}   # E, G, B: Dorian minus the chord tones
    assert not any(p % 12 == 8 for p in got)


def test_register_is_kept():
    for prev in (40, 55, 70, 84, 100):
        for lo in (-12, -3, 3, 10):
            for kind in "CSAX":
                got = many(Value(kind, 3, lo, lo + 6), prev, C, n=20)
                assert all(LOW <= p <= HIGH for p in got), (prev, lo, kind)


def test_first_note_starts_near_the_register_centre():
    got = many(Value("C", 3), None, C7)
    centre = (LOW + HIGH) // 2
    assert all(abs(p - centre) <= 6 and classify(p, C7) == "C" for p in got)
    assert len(set(got)) > 1                     # a choice, not a fixed note


def test_phrase_restart_starts_near_where_the_last_phrase_ended():
    got = many(Value("S", 3), 80, C7)
    assert all(74 <= p <= 84 and classify(p, C7) == "S" for p in got)
    # an anchor outside the register moves in by octaves
    got = many(Value("C", 3), 100, C7)
    assert all(LOW <= p <= HIGH and abs(p - 76) <= 6 for p in got)   # 100 -> 88 -> 76


def test_empty_kind_falls_back_x_a_s_c():
    assert kind_mask("X", C7) == 0               # C7's tones, scale and approach cover all 12
    got = many(Value("X", 3, -3, 3), 64, C7)
    assert all(classify(p, C7) == "A" for p in got)


def test_narrow_register_falls_back_then_gives_up():
    # a one-note register: a C over C with the only pitch G
    assert set(many(Value("C", 3, -3, 3), 60, C, low=67, high=67)) == {67}
    assert set(many(Value("C", 3, -3, 3), 67, C, low=67, high=67, repeats=2)) == {None}


def test_same_seed_same_line():
    vals = [Value("C", 3, -3, 3), Value("S", 3, -5, 1), Value("A", 3, 0, 6),
            Value("X", 3, -6, 0)] * 10
    a = [realize(v, 64, C, LOW, HIGH, random.Random(5)) for v in vals]
    b = [realize(v, 64, C, LOW, HIGH, random.Random(5)) for v in vals]
    assert a == b


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="kind 'L'"):
        realize(Value("L", 3), 60, C, LOW, HIGH, random.Random(1))
    with pytest.raises(ValueError, match="empty register"):
        realize(Value("C", 3), 60, C, 80, 60, random.Random(1))


def test_seed_bug_2_each_note_sounds_at_its_own_onset():
    # the seeds added the duration before placing the note: every note came a slot late
    t = ChordTimeline([(0, C), (12, DM7)])
    vals = [Value("C", 12), Value("C", 6, -3, 3), Value("R", 6), Value("C", 24, -3, 3)]
    line = realize_line(vals, t, LOW, HIGH, random.Random(2))
    assert [(on, ticks) for on, ticks, _ in line] == [(0, 12), (12, 6), (18, 6), (24, 24)]
    assert classify(line[0][2], C) == "C"
    assert classify(line[1][2], DM7) == "C"      # bound against the chord at tick 12
    assert line[2][2] is None


def test_realize_line_never_plays_three_in_a_row():
    t = ChordTimeline([(0, C)])
    vals = [Value("C", 3, -1, 1)] * 12           # every window holds only prev
    line = realize_line(vals, t, LOW, HIGH, random.Random(4), prev=60)
    pitches = [p for _, _, p in line]
    assert not any(a == b == c for a, b, c in zip(pitches, pitches[1:], pitches[2:]))
