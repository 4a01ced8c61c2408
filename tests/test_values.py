"""Values: kinds, classification order, text forms (compact and the seeds'), junk."""

import pytest

from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
from jazzd.grammar.values import (KINDS, Value, classify, format_seed_style, format_value,
                            format_values, kind_mask, parse_value, parse_values,
                            window_for_step)


def test_kinds_and_value_fields():
    assert KINDS == ("C", "S", "A", "X", "R")
    v = Value("C", 3, -5, 1)
    assert (v.kind, v.ticks, v.lo, v.hi) == ("C", 3, -5, 1)
    assert Value("R", 12) == Value("R", 12, None, None)


def test_window_is_step_plus_minus_a_minor_third():
    assert window_for_step(-2) == (-5, 1)
    assert window_for_step(0) == (-3, 3)
    assert window_for_step(7) == (4, 10)


@pytest.mark.parametrize("symbol, pitch, kind", [
    ("C7", 64, "C"),      # E, the third
    ("C7", 70, "C"),      # Bb, the seventh
    ("C7", 62, "S"),      # D: Mixolydian, not a chord tone
    ("C7", 69, "S"),      # A: Mixolydian
    ("C7", 61, "A"),      # Db: a semitone from C, not in the scale
    ("C", 70, "X"),       # Bb over a C triad: Ionian has B; Bb neighbours nothing
    ("Dm7", 71, "S"),     # B natural: Dorian's sixth
    ("Dm7", 60, "C"),
    ("Cmaj7", 66, "A"),   # F#: below G
])
def test_classify(symbol, pitch, kind):
    chord = parse_symbol(symbol)
    assert classify(pitch, chord) == kind
    assert classify(pitch % 12, chord) == kind   # a pitch class works as well


def test_classify_order_c_before_s_before_a():
    # every chord tone is also in the scale (and next to other tones): it must be C
    for symbol in ("C7", "Dm7", "Cmaj7", "Bdim7", "F#m7b5", "C7alt", "Caug"):
        chord = parse_symbol(symbol)
        for pc in range(12):
            k = classify(pc, chord)
            assert kind_mask(k, chord) >> pc & 1
            if chord.tones >> pc & 1:
                assert k == "C"


def test_classify_over_no_chord_is_outside():
    assert classify(60, NO_CHORD) == "X"
    assert kind_mask("C", NO_CHORD) == 0


def test_kind_masks_partition_the_octave():
    for symbol in ("C7", "Dm7", "Cmaj7", "Bdim7", "G13", "Ebm6"):
        chord = parse_symbol(symbol)
        masks = [kind_mask(k, chord) for k in "CSAX"]
        assert sum(masks) == 0xFFF
        assert masks[0] | masks[1] | masks[2] | masks[3] == 0xFFF


def test_grammar_md_example_in_both_forms():
    v = Value("C", 3, -5, 1)           # step -2 -> window (-5, 1)
    assert format_value(v) == "C,0.250,<-5,1>"
    assert format_seed_style(v) == "C,0.250,<m2,P-4>"
    assert parse_value("C,0.250,<-5,1>") == v
    assert parse_value("C,0.250,<m2,P-4>") == v


def test_no_window_and_rest_forms():
    assert format_value(Value("C", 3)) == "C,0.250"
    assert format_value(Value("R", 48)) == "R,4.000"
    assert format_seed_style(Value("R", 6)) == "R,0.500"
    assert parse_value("R,4.000") == Value("R", 48)
    assert parse_value(" S , 0.5 ") == Value("S", 6)


@pytest.mark.parametrize("text, ticks", [
    ("0.333", 4), ("0.167", 2), ("0.083", 1), ("0.667", 8), ("1.333", 16),
    ("0.250", 3), ("0.500", 6), ("1/3", 4), ("0.3333333", 4), ("2.000", 24),
])
def test_durations_land_on_the_twelfth_grid(text, ticks):
    assert parse_value(f"C,{text}").ticks == ticks
    assert parse_value(format_value(Value("C", ticks))).ticks == ticks


def test_seed_spellings_of_windows():
    # music21 adds intervals by spelling: an A4 step gives <M6,A2>, both plain semitones
    assert parse_value("C,0.250,<M6,A2>") == Value("C", 3, 3, 9)
    assert parse_value("A,0.250,<P1,d-5>") == Value("A", 3, -6, 0)
    assert parse_value("X,0.500,<M-2,M-9>") == Value("X", 6, -14, -2)


def test_line_round_trip_in_both_styles():
    line = [Value("C", 3), Value("S", 4, -5, 1), Value("R", 8), Value("A", 1, 0, 6),
            Value("X", 2, -15, -9), Value("C", 30, 9, 15)]
    assert parse_values(format_values(line)) == line
    assert parse_values(format_values(line, seed_style=True)) == line
    assert format_values(line, seed_style=True).split()[1] == "S,0.333,<m2,P-4>"


@pytest.mark.parametrize("text, words", [
    ("", "not a value"),
    ("C", "not a value"),
    ("C,0.25,<-5,1>,extra", "not a value"),
    ("Q,0.25", "unknown kind 'Q'"),
    ("L,0.25", "reserved"),
    ("C,abc", "not a number"),
    ("C,0.125", "not on the 1/12-quarter grid"),
    ("C,0.2", "not on the 1/12-quarter grid"),
    ("C,0", "must be positive"),
    ("C,-0.25", "must be positive"),
    ("C,nan", "not a number"),
    ("C,inf", "not a number"),
    ("C,0.250,<1>", "two bounds"),
    ("C,0.250,<1,-5>", "lo > hi"),
    ("C,0.250,<P-4,m2>", "upper < lower"),
    ("R,0.250,<-5,1>", "a rest has no interval window"),
    ("C,0.250,<m2,Z4>", "not an interval name"),
    ("C,0.250,<m2,-5>", "not an interval name"),
])
def test_junk_is_refused_with_the_text_named(text, words):
    with pytest.raises(ValueError) as e:
        parse_value(text)
    assert words in str(e.value)
    assert repr(text) in str(e.value)


def test_non_text_is_refused():
    for junk in (None, 3, b"C,0.25"):
        with pytest.raises(ValueError, match="not a value"):
            parse_value(junk)
