"""jazzd.grammar.pitch: names, masks, and music21-compatible interval names."""

import pytest

from jazzd.grammar.pitch import (TPQ, interval_name, mask_of, parse_interval, pc_from_name, pc_name,
                           pcs_of, rotate, spell)


def test_tpq_is_twelve():
    assert TPQ == 12
    assert TPQ % 3 == 0 and TPQ % 4 == 0  # sixteenths and eighth triplets are exact


@pytest.mark.parametrize("name,pc", [
    ("C", 0), ("c", 0), ("C#", 1), ("Db", 1), ("D-", 1), ("B-", 10), ("Bb", 10), ("B", 11),
    ("Cb", 11), ("B#", 0), ("E#", 5), ("Fb", 4), ("Ebb", 2), ("Cx", 2), ("F♯", 6), ("B♭", 10),
])
def test_pc_from_name(name, pc):
    assert pc_from_name(name) == pc


@pytest.mark.parametrize("bad", ["", "H", "C##b?", "Bbm", "7", None, 3, "C #"])
def test_pc_from_name_rejects_with_the_text(bad):
    with pytest.raises(ValueError) as e:
        pc_from_name(bad)
    assert repr(bad) in str(e.value)


def test_pc_name():
    assert [pc_name(pc) for pc in (0, 1, 6, 10)] == ["C", "C#", "F#", "A#"]
    assert [pc_name(pc, flat=True) for pc in (0, 1, 6, 10)] == ["C", "Db", "Gb", "Bb"]
    assert pc_name(13) == "C#"


def test_masks_round_trip():
    assert mask_of([0, 4, 7]) == 0b10010001
    assert mask_of([60, 64, 67, 72]) == mask_of([0, 4, 7])  # MIDI notes fold to classes
    assert pcs_of(mask_of([11, 2, 5])) == (2, 5, 11)
    for m in (0, 1, 0x800, 0xFFF, 0b101010101010):
        assert mask_of(pcs_of(m)) == m
    assert rotate(mask_of([0, 4, 7]), 7) == mask_of([7, 11, 2])
    assert rotate(mask_of([11]), 1) == mask_of([0])
    assert rotate(mask_of([0]), -1) == mask_of([11])


def test_spell_uses_letters():
    assert spell("Bb", 4, 2) == "D"
    assert spell("B", 9, 6) == "Ab"      # diminished seventh of B
    assert spell("F#", 4, 2) == "A#"
    assert spell("Gb", 8, 4) == "D"     # augmented fifth of Gb
    assert spell("Gb", 3, 2) == "Bbb"   # minor third of Gb


INTERVALS_M21 = [  # (semitones, music21 Interval(semitones).directedName)
    (0, "P1"), (1, "m2"), (2, "M2"), (3, "m3"), (4, "M3"), (5, "P4"), (6, "d5"), (7, "P5"),
    (8, "m6"), (9, "M6"), (10, "m7"), (11, "M7"), (12, "P8"), (13, "m9"), (14, "M9"),
    (17, "P11"), (18, "d12"), (24, "P15"), (-1, "m-2"), (-5, "P-4"), (-4, "M-3"),
    (-6, "d-5"), (-12, "P-8"), (-13, "m-9"), (-19, "P-12"),
]


@pytest.mark.parametrize("semitones,name", INTERVALS_M21)
def test_interval_name_matches_music21(semitones, name):
    assert interval_name(semitones) == name
    assert parse_interval(name) == semitones


def test_interval_names_agree_with_music21_everywhere():
    interval = pytest.importorskip("music21.interval")
    for s in range(-40, 41):
        assert interval_name(s) == interval.Interval(s).directedName
    for name in ["AA4", "dd5", "d-5", "A-4", "d1", "A1", "M-9", "m-13", "AAA4", "M10", "d8",
                 "A8", "dd-7", "A-11", "d15"]:
        assert parse_interval(name) == interval.Interval(name).semitones, name


@pytest.mark.parametrize("name,semitones", [
    ("A4", 6), ("d5", 6), ("AA4", 7), ("dd5", 5), ("A-4", -6), ("d-5", -6), ("m-2", -1),
    ("M-9", -14), ("A1", 1), ("d1", -1), ("dd3", 1), ("AA6", 11), ("P-1", 0),
])
def test_parse_interval_any_quality(name, semitones):
    assert parse_interval(name) == semitones


@pytest.mark.parametrize("bad", ["", "P2", "M4", "m5", "X3", "P0", "4", "P", "p4", "M 3", None])
def test_parse_interval_rejects(bad):
    with pytest.raises(ValueError):
        parse_interval(bad)
