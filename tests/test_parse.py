"""Parsing melodies into values, the chord timeline, and the clean-up (prune) rules."""

import random
from fractions import Fraction

import pytest

from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.parse import parse_melody
from jazzd.grammar.prune import clean, limit_repeats, snap_ticks, split_bars
from jazzd.grammar.timeline import ChordTimeline
from jazzd.grammar.values import Value

CMAJ7 = parse_symbol("Cmaj7")
DM7 = parse_symbol("Dm7")
G7 = parse_symbol("G7")


def tl(*changes, length=None):
    return ChordTimeline([(t, parse_symbol(s)) for t, s in changes], length=length)


def bar_sums(values, bar_ticks=48):
    return [sum(v.ticks for v in bar) for bar in split_bars(values, bar_ticks)]


# ---- timeline ----

def test_timeline_lookup():
    t = tl((0, "Dm7"), (24, "G7"), (48, "Cmaj7"))
    assert t.at(0) == DM7 and t.at(23) == DM7
    assert t.at(24) == G7 and t.at(47) == G7
    assert t.at(48) == CMAJ7 and t.at(10_000) == CMAJ7
    assert len(t) == 3 and list(t)[1] == (24, G7)


def test_timeline_before_first_change_is_no_chord():
    t = tl((12, "C7"))
    assert t.at(0) == NO_CHORD and not t.at(11)
    assert ChordTimeline().at(5) == NO_CHORD


def test_timeline_changes_between_is_half_open():
    t = tl((0, "Dm7"), (24, "G7"), (48, "Cmaj7"))
    assert t.changes_between(0, 48) == [(0, DM7), (24, G7)]
    assert t.changes_between(1, 49) == [(24, G7), (48, CMAJ7)]
    assert t.changes_between(25, 47) == []


def test_timeline_sorts_its_input():
    t = tl((48, "Cmaj7"), (0, "Dm7"))
    assert t.ticks == [0, 48] and t.at(50) == CMAJ7


@pytest.mark.parametrize("changes, words", [
    ([(0, DM7), (0, G7)], "two chords at tick 0"),
    ([(-1, DM7)], "tick must be an int >= 0"),
    ([(1.5, DM7)], "tick must be an int >= 0"),
    ([(0, "Dm7")], "not a Chord"),
    ([(0,)], "expected (tick, Chord)"),
])
def test_timeline_errors(changes, words):
    with pytest.raises(ValueError) as e:
        ChordTimeline(changes)
    assert words in str(e.value)


def test_timeline_length_checked():
    assert ChordTimeline([(0, DM7)], length=48).length == 48
    with pytest.raises(ValueError, match="past the end"):
        ChordTimeline([(0, DM7), (48, G7)], length=48)
    with pytest.raises(ValueError, match="positive int"):
        ChordTimeline([(0, DM7)], length=0)


# ---- parse ----

def test_quarters_over_one_chord():
    vals = parse_melody([(0, 60), (12, 64), (24, 67), (36, 71)], tl((0, "Cmaj7")))
    assert vals == [Value("C", 12, None, None), Value("C", 12, 1, 7, 4),
                    Value("C", 12, 0, 6, 3), Value("C", 12, 1, 7, 4)]


def test_classified_against_the_chord_at_the_onset():
    # F (65) is S over Dm7... but at tick 24 it is the seventh of G7
    t = tl((0, "Dm7"), (24, "G7"))
    vals = parse_melody([(0, 65), (12, 71), (24, 65), (36, 71)], t)
    assert [v.kind for v in vals] == ["C", "S", "C", "C"]
    # a note held across the change keeps the kind of its onset
    vals = parse_melody([(18, 71), (30, 65)], t)
    assert [v.kind for v in vals] == ["R", "S", "C"]


def test_seed_bug_3_durations_are_onset_to_onset_and_rests_kept():
    # a staccato eighth (3 ticks sounding), an eighth rest, then a half note
    vals = parse_melody([(0, 3, 62), (12, 24, 65)], tl((0, "Dm7")))
    assert vals == [Value("C", 3), Value("R", 9), Value("C", 24, 0, 6, 3), Value("R", 12)]
    assert sum(v.ticks for v in vals) == 48


def test_explicit_rest_markers_with_pairs():
    vals = parse_melody([(0, 62), (6, None), (24, 65)], tl((0, "Dm7")), end=48)
    assert vals == [Value("C", 6), Value("R", 18), Value("C", 24, 0, 6, 3)]


def test_short_silence_is_absorbed_as_articulation():
    # notes 11 ticks long every 12 ticks: 1-tick gaps are not rests
    vals = parse_melody([(0, 11, 62), (12, 11, 65), (24, 22, 69)], tl((0, "Dm7")))
    assert [v.ticks for v in vals] == [12, 12, 24]      # the last one's 2-tick tail too
    # a gap of a sixteenth (3 ticks) is a rest
    vals = parse_melody([(0, 9, 62), (12, 12, 65)], tl((0, "Dm7")), min_rest=3)
    assert [v.kind for v in vals][:2] == ["C", "R"]


def test_leading_silence_and_overlaps():
    vals = parse_melody([(6, 30, 62), (12, 12, 65)], tl((0, "Dm7")))
    assert vals[:3] == [Value("R", 6), Value("C", 6), Value("C", 12, 0, 6, 3)]


def test_bar_line_cuts_a_value_and_the_rest_is_a_rest():
    # a note on the "and" of four held for a whole note
    vals = parse_melody([(42, 48, 60), (96, 62)], tl((0, "Cmaj7")), end=144)
    assert vals == [Value("R", 42), Value("C", 6), Value("R", 48),
                    Value("S", 48, -1, 5, 2)]
    assert bar_sums(vals) == [48, 48, 48]


def test_long_rest_starts_a_new_phrase():
    t = tl((0, "Cmaj7"))
    vals = parse_melody([(0, 12, 60), (60, 12, 64)], t)      # 48 ticks of silence
    assert [v.lo for v in vals if v.kind != "R"] == [None, None]
    vals = parse_melody([(0, 12, 60), (59, 12, 64)], t)      # 47 ticks: same phrase
    assert [v.lo for v in vals if v.kind != "R"] == [None, 1]


def test_polyphony_keeps_the_highest_pitch():
    vals = parse_melody([(0, 60), (0, 67), (0, 64), (12, None), (12, 62), (24, 65)],
                        tl((0, "Dm7")), end=48)
    assert vals == [Value("S", 12), Value("C", 12, -8, -2, -5),
                    Value("C", 24, 0, 6, 3)]


def test_off_grid_onsets_snap_to_the_nearest_tick():
    # 96-PPQ MIDI gives eighths of a tick; floats and Fractions both work
    notes = [(Fraction(1, 8), 60), (11.6, 64), (Fraction(47, 2), 67), (35.6, 71)]
    vals = parse_melody(notes, tl((0, "Cmaj7")))
    assert [v.ticks for v in vals] == [12, 12, 12, 12]


def test_onsets_snapped_together_never_give_zero_durations():
    vals = parse_melody([(0.2, 60), (0.4, 64), (0.6, 67)], tl((0, "Cmaj7")))
    assert all(v.ticks > 0 for v in vals)
    assert vals[0] == Value("C", 1)                 # 64 (at 0) beat 60, 67 is at 1
    assert sum(v.ticks for v in vals) == 48


def test_triplets_survive():
    notes = [(0, 60), (4, 62), (8, 64), (12, 65), (16, 67), (20, 69), (24, 71)]
    vals = parse_melody(notes, tl((0, "Cmaj7")), end=48)
    assert [v.ticks for v in vals] == [4, 4, 4, 4, 4, 4, 24]


def test_start_and_end_select_a_section():
    notes = [(t, 60 + t // 12) for t in range(0, 192, 12)]
    vals = parse_melody(notes, tl((0, "Cmaj7")), start=48, end=144)
    assert len(vals) == 8 and sum(v.ticks for v in vals) == 96
    assert vals[0].lo is None                        # first note of the section


def test_nothing_to_parse():
    assert parse_melody([], tl((0, "C"))) == []
    assert parse_melody([], tl((0, "C")), end=96) == [Value("R", 48), Value("R", 48)]


def test_note_over_no_chord_is_outside():
    vals = parse_melody([(0, 60), (24, 62)], tl((12, "C")), end=48)
    assert vals[0].kind == "X" and vals[1].kind == "S"


@pytest.mark.parametrize("notes, words", [
    ([(0, 128)], "pitch must be a MIDI note 0-127"),
    ([(0, -1)], "pitch must be a MIDI note 0-127"),
    ([(0, "C4")], "pitch must be a MIDI note 0-127"),
    ([(0, 60.5)], "pitch must be a MIDI note 0-127"),
    ([(-12, 60)], "negative onset"),
    ([("x", 60)], "not a number of ticks"),
    ([(float("nan"), 60)], "not a finite number"),
    ([(0, 0, 60)], "duration must be positive"),
    ([(0, -3, 60)], "duration must be positive"),
    ([(0, 1, 2, 60)], "expected (onset, pitch)"),
    ([60], "expected (onset, pitch)"),
])
def test_junk_notes_are_named(notes, words):
    with pytest.raises(ValueError) as e:
        parse_melody(notes, tl((0, "C")))
    assert words in str(e.value)
    assert "note #0" in str(e.value)


def test_bad_section_bounds():
    with pytest.raises(ValueError, match="whole number of 48-tick bars"):
        parse_melody([(0, 60)], tl((0, "C")), end=40)
    with pytest.raises(ValueError, match="bar_ticks must be an int >= 1"):
        parse_melody([(0, 60)], tl((0, "C")), bar_ticks=0)


def test_three_four_bars():
    vals = parse_melody([(0, 60), (24, 64), (36, 67)], tl((0, "C")), bar_ticks=36)
    assert bar_sums(vals, 36) == [36, 36]


# ---- prune ----

def test_seed_bug_1_snapping_is_nearest_and_never_random():
    for _ in range(50):                          # the seeds grew 0.25 to 0.5 half the time
        assert snap_ticks(0.25) == 3
    assert snap_ticks(Fraction(1, 3)) == 4       # triplets survive
    assert snap_ticks(1 / 3) == 4
    assert snap_ticks(0.333) == 4
    assert snap_ticks(0.125) == 2                # 1.5 ticks: nearest (ties up), never 0
    assert snap_ticks(0.01) == 1                 # a positive duration never becomes 0
    assert snap_ticks(0) == 0
    assert snap_ticks(4) == 48
    assert snap_ticks(0.7) == 8                  # 8.4 ticks: down, to the nearest


@pytest.mark.parametrize("junk", [-0.25, float("nan"), float("inf"), "0.25", None, True])
def test_snap_ticks_refuses_junk(junk):
    with pytest.raises(ValueError):
        snap_ticks(junk)


def test_seed_bug_4_overrunning_bars_are_cut():
    # a generated stream whose first bar runs 12 ticks past four beats
    vals = [Value("C", 36), Value("S", 24, -2, 4, 1), Value("C", 12, 0, 6, 3)]
    out = clean(vals, 48)
    assert out == [Value("C", 36), Value("S", 12, -2, 4, 1), Value("R", 12),
                   Value("C", 12, 0, 6, 3), Value("R", 24)]
    assert bar_sums(out) == [48, 48]


def test_clean_drops_zero_durations_and_merges_rests_within_bars():
    vals = [Value("C", 0), Value("R", 6), Value("R", 6), Value("C", 0, 1, 2, 4),
            Value("S", 36), Value("R", 12), Value("R", 36)]
    out = clean(vals, 48)
    assert out == [Value("R", 12), Value("S", 36), Value("R", 48)]
    assert bar_sums(out) == [48, 48]


def test_clean_to_a_total():
    vals = [Value("C", 30), Value("C", 30), Value("C", 30)]
    out = clean(vals, 48, total=48)
    assert out == [Value("C", 30), Value("C", 18)]
    assert clean([Value("C", 3)], 48, total=96) == [Value("C", 3), Value("R", 45), Value("R", 48)]


def test_clean_does_not_touch_its_input():
    vals = [Value("C", 60), Value("R", 0)]
    copy = list(vals)
    clean(vals)
    assert vals == copy


def test_clean_refuses_non_int_ticks():
    with pytest.raises(ValueError, match="ticks must be an int"):
        clean([Value("C", 0.25)])


def test_seed_bug_7_every_repeat_is_caught():
    # the seeds removed repeats in pairs while iterating, and missed every other one
    notes = [(3, 60)] * 7
    out = limit_repeats(notes, max_repeats=2)
    assert out == [(3, 60), (18, 60)]
    assert sum(t for t, _ in out) == 21
    assert notes == [(3, 60)] * 7


def test_limit_repeats_across_rests():
    out = limit_repeats([(3, 60), (3, None), (3, 60), (3, None), (3, 60), (3, 62)], 2)
    assert out == [(3, 60), (3, None), (3, 60), (6, None), (3, 62)]
    rng = random.Random(3)
    for _ in range(200):
        notes = [(rng.randint(1, 6), rng.choice([60, 60, 62, None])) for _ in range(30)]
        out = limit_repeats(notes, 2)
        assert sum(t for t, _ in out) == sum(t for t, _ in notes)
        sounded = [p for _, p in out if p is not None]
        assert not any(a == b == c for a, b, c in zip(sounded, sounded[1:], sounded[2:]))


def test_without_cutting_at_bars_a_note_ties_over_and_a_rest_is_still_cut():
    """Training reads corpora with cut_at_bars=False: a note held over the bar line is
    one value, a silence over it is a rest per bar (no rest value longer than a bar)."""
    from jazzd.grammar.parse import parse_melody_pitched
    tl = ChordTimeline([(0, CMAJ7)])
    notes = [(36, 24, 60), (60, 6, 62), (66, 0.5, None), (150, 6, 64)]
    pairs = parse_melody_pitched([(o, d, p) for o, d, p in notes if p is not None],
                                 tl, 48, end=192, cut_at_bars=False)
    values = [v for v, _ in pairs]
    assert [(v.kind, v.ticks) for v in values] == \
        [("R", 36), ("C", 24), ("S", 6), ("R", 30), ("R", 48), ("R", 6), ("C", 6),
         ("R", 36)]
    assert [p for _, p in pairs][1:3] == [60, 62]
    assert sum(v.ticks for v in values) == 192
    cut = parse_melody_pitched([(36, 24, 60), (60, 6, 62), (150, 6, 64)], tl, 48, end=192)
    assert [(v.kind, v.ticks) for v, _ in cut][:3] == [("R", 36), ("C", 12), ("R", 12)]
