"""The conditioning vector: families from chord intervals, beat weights, one-hot layout."""

import numpy as np
import pytest

from jazzd.grammar import features
from jazzd.grammar.chords import NO_CHORD, parse_symbol
from jazzd.grammar.meter import beat_strength
from jazzd.grammar.features import (FAMILIES, WIDTH, chord_family, condition,
                              condition_index, condition_into)


@pytest.mark.parametrize("symbol,family", [
    ("C", "maj"), ("Cmaj7", "maj"), ("C6", "maj"), ("C69", "maj"), ("Fmaj7#11", "maj"),
    ("Dm", "min"), ("Dm7", "min"), ("Dm6", "min"), ("Cm(maj7)", "min"), ("Ebm9", "min"),
    ("G7", "dom"), ("G13", "dom"), ("G7b9", "dom"), ("G7alt", "dom"), ("Bb9", "dom"),
    ("Bm7b5", "half-dim"), ("Bø7", "half-dim"),
    ("Bdim", "dim"), ("Bdim7", "dim"), ("Bo7", "dim"),
    ("Caug", "aug"), ("C+", "aug"),
    ("Gsus4", "sus"), ("G7sus4", "sus"), ("Csus2", "sus"),
])
def test_families(symbol, family):
    assert chord_family(parse_symbol(symbol)) == family


def test_no_chord_family():
    assert chord_family(NO_CHORD) == "none"
    assert chord_family(None) == "none"


def test_every_root_gives_the_same_family():
    for root in ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"):
        assert chord_family(parse_symbol(root + "m7b5")) == "half-dim"
        assert chord_family(parse_symbol(root + "7")) == "dom"


def test_beat_strength():
    assert [beat_strength(b * 12, 4) for b in range(4)] == [0, 2, 1, 2]
    assert [beat_strength(b * 12, 3) for b in range(3)] == [0, 2, 2]
    assert [beat_strength(b * 12, 6) for b in range(6)] == [0, 2, 2, 1, 2, 2]
    assert beat_strength(48 + 12 * 2 + 5, 4) == 1     # inside beat 3 of the second bar
    assert beat_strength(7, 4) == 0


def test_vector_layout():
    ch = parse_symbol("G7")
    v = condition(12 * 2 + 4, ch, 4)        # beat 3, a triplet eighth in; no pitch yet
    assert len(v) == WIDTH
    assert sum(v) == features.HOT == 6
    on = [i for i, x in enumerate(v) if x]
    assert on == [4, features.STRENGTH_OFFSET + 1,
                  features.FAMILY_OFFSET + FAMILIES.index("dom"),
                  features.DEGREE_OFFSET + 12, features.HEIGHT_OFFSET + 8,
                  features.CHANGE_OFFSET]
    assert condition_index(12 * 2 + 4, ch, 4) == tuple(on)


def test_the_line_against_the_chord():
    """B over G7 is its third (degree 4); 5 semitones above a middle of 66 is band 5."""
    ch = parse_symbol("G7")
    idx = condition_index(0, ch, 4, prev=71, middle=66, changed=True)
    assert idx[3] == features.DEGREE_OFFSET + 4
    assert idx[4] == features.HEIGHT_OFFSET + 5
    assert idx[5] == features.CHANGE_OFFSET + 1
    assert features.degree(71, NO_CHORD) == 12
    bands = [features.height_band(66 + d, 66) for d in (-20, -12, -9, -1, 0, 1, 5, 12, 13)]
    assert bands == [0, 0, 1, 3, 3, 4, 5, 6, 7]


def test_into_buffer_matches_and_clears():
    buf = np.ones(WIDTH, np.float32)
    for tick, sym, prev in [(0, "Cmaj7", None), (9, "Dm7", 62), (31, "Bm7b5", 80),
                            (47, None, 60)]:
        ch = parse_symbol(sym) if sym else NO_CHORD
        out = condition_into(buf, tick, ch, 4, prev, 66, tick > 10)
        assert out is buf
        np.testing.assert_array_equal(
            buf, np.array(condition(tick, ch, 4, prev, 66, tick > 10), np.float32))


def test_spec_describes_the_vector():
    assert features.SPEC["width"] == WIDTH == 12 + 3 + len(FAMILIES) + 13 + 9 + 2
