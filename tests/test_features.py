"""The conditioning vector: families from chord intervals, beat weights, one-hot layout."""

import numpy as np
import pytest

from jazzd.grammar import features
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD
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
    assert sum(v[:features.TEMPO_OFFSET]) == features.HOT_V3 == features.HOT + 1 == 7
    on = [i for i, x in enumerate(v[:features.TEMPO_OFFSET]) if x]
    assert on == [4, features.STRENGTH_OFFSET + 1,
                  features.FAMILY_OFFSET + FAMILIES.index("dom"),
                  features.DEGREE_OFFSET + 12, features.HEIGHT_OFFSET + 8,
                  features.CHANGE_OFFSET, features.PHRASE_OFFSET]
    assert condition_index(12 * 2 + 4, ch, 4) == tuple(on[:features.HOT])
    # no tempo given: the default tempo's features
    assert v[features.TEMPO_OFFSET:] == list(features.tempo_features(features.DEFAULT_BPM))


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
        out = condition_into(buf, tick, ch, 4, prev, 66, tick > 10, since=tick,
                             tempo=features.tempo_features(100 + tick))
        assert out is buf
        np.testing.assert_array_equal(
            buf, np.array(condition(tick, ch, 4, prev, 66, tick > 10, since=tick,
                                    bpm=100 + tick), np.float32))


def test_phrase_bands_count_beats_since_the_phrase_began():
    assert [features.phrase_band(t) for t in (None, 0, 1, 12, 13, 24, 25, 48, 96, 97, 192,
                                              193, 10_000)] == \
        [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6]


def test_tempo_features_are_log_tempo_and_beat_seconds():
    assert features.tempo_features(140) == pytest.approx((0.0, 60 / 140))
    assert features.tempo_features(70) == pytest.approx((-1.0, 60 / 70))
    assert features.tempo_features(280) == pytest.approx((1.0, 60 / 280))
    assert features.tempo_features(None) == features.tempo_features(features.DEFAULT_BPM)
    ch = parse_symbol("Cmaj7")
    slow = condition(0, ch, 4, since=30, bpm=70)
    fast = condition(0, ch, 4, since=30, bpm=280)
    assert slow[:features.TEMPO_OFFSET] == fast[:features.TEMPO_OFFSET]
    assert slow[features.PHRASE_OFFSET + 3] == 1.0
    assert slow[features.TEMPO_OFFSET:] != fast[features.TEMPO_OFFSET:]


def test_a_version_2_buffer_gets_the_version_2_vector():
    """Models trained before the tempo (the shipped chorale model) read 47 columns."""
    ch = parse_symbol("Dm7")
    buf = np.ones(features.WIDTH_V2, np.float32)
    condition_into(buf, 9, ch, 4, 62, 66, True, since=40, tempo=(0.5, 0.3))
    assert list(buf) == condition(9, ch, 4, 62, 66, True, width=features.WIDTH_V2)
    assert buf.sum() == features.HOT
    full = np.ones(WIDTH, np.float32)
    condition_into(full, 9, ch, 4, 62, 66, True, since=40, tempo=(0.5, 0.3))
    np.testing.assert_array_equal(full[:features.WIDTH_V2], buf)
    assert full[features.PHRASE_OFFSET + 3] == 1.0
    np.testing.assert_allclose(full[features.TEMPO_OFFSET:], [0.5, 0.3])


def test_spec_describes_the_vector():
    assert features.SPEC_V2["width"] == features.WIDTH_V2 == \
        12 + 3 + len(FAMILIES) + 13 + 9 + 2
    assert features.SPEC["width"] == WIDTH == features.WIDTH_V2 + 7 + 2
    assert features.SPEC["version"] == 3 and set(features.SPECS) == {2, 3}
