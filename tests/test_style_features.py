"""The style gap's per-chorus features (grammar/style_features.py) on hand-made lines."""

import math
from fractions import Fraction

import pytest

from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.style_features import FEATURES, NAMES, features, vector

C7 = parse_symbol("C7")
F7 = parse_symbol("F7")
CHANGES = [(0, C7)]


def line(pitches, step=Fraction(1, 2), start=0, dur=None):
    return [(start + i * step, dur or step, p) for i, p in enumerate(pitches)]


def test_there_are_36_named_features_and_every_one_is_a_finite_float():
    assert len(NAMES) == len(set(NAMES)) == 36
    assert all(desc for _, desc in FEATURES)
    f = features(line([60, 64, 67, 70] * 4), CHANGES, 16)
    assert list(f) == list(NAMES)
    assert all(isinstance(v, float) and math.isfinite(v) for v in f.values())
    assert vector(line([60, 64]), CHANGES, 4) == [features(line([60, 64]), CHANGES, 4)[n]
                                                  for n in NAMES]


def test_harmony_shares():
    # C7: C E G Bb chord tones; D scale (mixolydian); Db -> C approach; F# -> G is an
    # approach too (a semitone to a chord tone); F# then C: outside
    f = features(line([60, 62, 61, 60, 66, 67, 66, 60]), CHANGES, 4)
    assert f["kind_C"] == 4 / 8 and f["kind_S"] == 1 / 8
    assert f["kind_A"] == 2 / 8 and f["kind_X"] == 1 / 8
    assert f["pc_entropy"] == pytest.approx(-sum(c / 8 * math.log2(c / 8)
                                                 for c in (3, 1, 1, 2, 1)))   # C D Db F# G


def test_chord_tones_on_beats_1_and_3_and_the_first_note_after_a_change():
    # beats 1 and 3 carry E (C of C7) and D (S of F7: F mixolydian); the change to F7
    # on beat 3 is met by D, an S tone, which fits
    notes = [(0, 1, 64), (1, 1, 61), (2, 1, 62), (3, 1, 60)]
    f = features(notes, [(0, C7), (24, F7)], 4)
    assert f["strong_chord"] == 0.5
    assert f["change_fit"] == 1.0
    g = features([(0, 1, 64), (2, 1, 66)], [(0, C7), (24, F7)], 4)   # F# over F7: X
    assert g["change_fit"] == 0.0


def test_no_chord_notes_are_left_out_of_the_kind_shares():
    f = features(line([60, 64, 66, 67]), [(0, C7), (12, NO_CHORD)], 2)
    assert f["kind_C"] == 1.0          # only the first two are classified: both C


def test_intervals_rising_and_turns():
    f = features(line([60, 60, 61, 63, 67, 60, 75]), CHANGES, 4)
    # steps 0, +1, +2, +4, -7, +15
    assert [f[n] for n in ("int_0", "int_1", "int_2", "int_3_4", "int_5_7", "int_8_12",
                           "int_13_up")] == [1 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 0, 1 / 6]
    assert f["rising"] == 4 / 5
    assert f["turns"] == 2 / 4
    assert f["mean_abs_interval"] == (0 + 1 + 2 + 4 + 7 + 15) / 6


def test_onsets_per_beat_on_the_beat_and_long_notes():
    notes = [(0, Fraction(1, 2), 60), (Fraction(1, 2), Fraction(1, 2), 62),   # beat 0: 2
             (1, 2, 64),                                                    # beat 1: 1, long
             (3, Fraction(1, 3), 65), (Fraction(10, 3), Fraction(1, 3), 67),
             (Fraction(11, 3), Fraction(1, 3), 69)]                        # beat 3: 3
    f = features(notes, CHANGES, 4)
    assert (f["beats_0"], f["beats_1"], f["beats_2"], f["beats_3"], f["beats_4up"]) == (
        0.25, 0.25, 0.25, 0.25, 0.0)
    assert f["beat_entropy"] == pytest.approx(2.0)
    assert f["on_beat"] == 3 / 6
    assert f["long_notes"] == 1 / 6
    assert f["notes_per_beat"] == 6 / 4


def test_a_swung_pair_notated_in_triplets_has_the_same_features_as_straight_eighths():
    """Swing notation is not measured: 0 + 2/3 and 0 + 1/2 give the same vector."""
    pitches = [60, 62, 64, 65, 67, 69, 70, 72] * 2
    straight, triplet = [], []
    for i, p in enumerate(pitches):
        beat, second = divmod(i, 2)
        straight.append((beat + Fraction(second, 2), Fraction(1, 2), p))
        triplet.append((beat + Fraction(2 * second, 3),
                        Fraction(1, 3) if second else Fraction(2, 3), p))
    assert features(straight, CHANGES, 8) == features(triplet, CHANGES, 8)


def test_anticipations_and_syncopated_long_notes():
    # an eighth before beat 2 with nothing on beat 2, held across it: both
    f = features([(0, Fraction(3, 2), 60), (Fraction(3, 2), 1, 64), (3, 1, 67)], CHANGES, 4)
    assert f["anticipations"] == 1 / 3
    assert f["syncopated_long"] == 1 / 3
    # the same eighth with a note on beat 2: neither
    g = features([(0, Fraction(3, 2), 60), (Fraction(3, 2), Fraction(1, 2), 64),
                  (2, 1, 65), (3, 1, 67)], CHANGES, 4)
    assert g["anticipations"] == 0 and g["syncopated_long"] == 0


def test_breaks_phrases_and_rest_share():
    # two phrases of 4 eighths, 2 beats of silence between, then a 4-beat held note after
    # a silence of 1 beat (not a break): 8 bars... here 3 bars of 4 beats
    notes = line([60, 62, 64, 65]) + line([67, 65, 64, 62], start=4) + [(7, 4, 60)]
    f = features(notes, CHANGES, 12)
    assert f["breaks_per_8_bars"] == 1 * 8 * 4 / 12
    assert f["phrase_notes"] == (4 + 5) / 2
    assert f["phrase_beats"] == (2 + (11 - 4)) / 2
    assert f["rest_share"] == pytest.approx(1 - (2 + 2 + 4) / 12)
    assert f["range"] == 7.0


def test_motifs_that_recur():
    motif = [60, 62, 64, 67, 65]
    f = features(line(motif + [50] + motif), CHANGES, 8)
    # steps: 2 2 3 -2 | -15 10 | 2 2 3 -2: the 4-gram (2, 2, 3, -2) twice of 7 grams
    assert f["motif_share"] == 2 / 7
    g = features(line([60, 61, 63, 66, 70, 75, 81, 88]), CHANGES, 4)
    assert g["motif_share"] == 0.0


def test_notes_are_cut_at_the_next_onset_and_the_chorus_end():
    f = features([(0, 8, 60), (1, 1, 62), (3, 4, 64), (4, 1, 65)], CHANGES, 4)
    assert f["notes_per_beat"] == 3 / 4          # the note at beat 4 is past the end
    assert f["rest_share"] == pytest.approx(0.25)   # only beat 2 is silent


def test_floats_on_the_grid_read_like_fractions_and_off_grid_input_is_refused():
    exact = [(Fraction(i, 3), Fraction(1, 3), 60 + i) for i in range(9)]
    floats = [(i / 3, 1 / 3, 60 + i) for i in range(9)]
    assert features(exact, CHANGES, 4) == features(floats, CHANGES, 4)
    with pytest.raises(ValueError, match="note #1 onset 0.1"):
        features([(0, 1, 60), (0.1, 1, 62)], CHANGES, 4)
    with pytest.raises(ValueError, match="without notes"):
        features([], CHANGES, 4)
    with pytest.raises(ValueError, match="positive int of beats"):
        features(line([60]), CHANGES, 0)
