"""The Weimar Jazz Database reader: Jazzomat chord symbols, onsets on the grid, rests
from the performed seconds, choruses and their charts, skipped solos, the performer
split. Synthetic CSV files in tmp_path; the real database from ../shared/data/wjazzd
when it is there (the tests that need it skip otherwise)."""

import csv
import glob
import os
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import numpy as np

from jazzd.train.wjazzd import (BAR_TICKS, WjazzdError, format_report, index_entries, read_corpus,
                                solo_piece, split_performers, tempo_of)
from jazzd.grammar.chart import parse_chart
from jazzd.grammar.chord_symbols import parse_symbol
from jazzd.grammar.chords import NO_CHORD, ChordSymbolError
from jazzd.grammar.jazzomat import (GRID, end_tick, quantize_beat, quantize_onsets, read_chord,
                              rest_after, snap)
from jazzd.grammar.parse import parse_melody
from jazzd.grammar.pitch import TPQ

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "wjazzd"
needs_data = pytest.mark.skipif(not (DATA / "solos.csv").is_file(),
                                reason="the Weimar Jazz Database is not in ../shared/data")


# ---- chord symbols ------------------------------------------------------------------

@pytest.mark.parametrize("jazzomat, lead_sheet", [
    ("Bb7", "Bb7"), ("C-7", "Cm7"), ("Fj7", "Fmaj7"), ("Dm7b5", "Dm7b5"),
    ("G79b", "G7b9"), ("F79#", "F7#9"), ("C7913", "C13"), ("Ebsus7913", "Eb13sus4"),
    ("Ebsus79", "Eb9sus4"), ("C-7/Bb", "Cm7/Bb"), ("Do7", "Ddim7"), ("Do", "Ddim"),
    ("C+", "C+"), ("C+7", "C7#5"), ("B+79#", "B7#5#9"), ("Ealt", "E7alt"),
    ("D7alt", "D7alt"), ("Ebj7911#", "Ebmaj9#11"), ("Gbj79", "Gbmaj9"),
    ("Bb79b13b", "Bb7b9b13"), ("F79b13", "F13b9"), ("A7913b", "A9b13"),
    ("D79#11#", "D7#9#11"), ("G-7911", "Gm11"), ("Bb-7913", "Bbm13"), ("F-j7", "Fm(maj7)"),
    ("Ab+j7/C", "Abmaj7#5/C"), ("Csus", "Csus4"), ("Dsus7", "D7sus4"), ("C-69", "Cm69"),
    ("Eb6/G", "Eb6/G"), ("Cbj7", "Cbmaj7"), ("A#79b", "A#7b9"), ("Ab7911", "Ab11"),
])
def test_jazzomat_symbols_read_as_the_lead_sheet_chord(jazzomat, lead_sheet):
    reading = read_chord(jazzomat)
    assert reading.chord == parse_symbol(lead_sheet)
    assert reading.dropped == ()


def test_nc_is_no_chord():
    assert read_chord("NC").chord is NO_CHORD


@pytest.mark.parametrize("symbol, text, dropped", [
    ("G-79b", "Gm7", ("b9",)),                 # m7b9: not in the quality table
    ("C-j7911#", "Cmmaj9", ("#11",)),
    ("Ebj79#11#", "Ebmaj7#11", ("#9",)),       # the #11 survives: as few dropped as possible
])
def test_unknown_tensions_are_dropped_and_named(symbol, text, dropped):
    reading = read_chord(symbol)
    assert (reading.text, reading.dropped) == (text, dropped)
    assert reading.chord == parse_symbol(text)


@pytest.mark.parametrize("bad", ["", "H7", "C7x", "Cj", "nc", "C/H", 7])
def test_unreadable_symbols_raise_naming_the_symbol(bad):
    with pytest.raises(ChordSymbolError) as e:
        read_chord(bad)
    assert repr(bad) in str(e.value) or str(bad) in str(e.value)


@pytest.mark.parametrize("symbol", ["Bb7", "D-7", "C-6", "G-69", "Eb6", "F+7", "Ab+",
                                    "Em7b5", "Go", "Bo7", "Csus", "Dsus7", "C7alt", "F7/A",
                                    "Bb-7/Eb", "G+/Ab"])
def test_symbols_parse_symbol_reads_directly_give_the_same_chord(symbol):
    assert read_chord(symbol).chord == parse_symbol(symbol)


@needs_data
def test_every_symbol_of_the_database_reads():
    symbols = set()
    for path in glob.glob(str(DATA / "mcsv_beat" / "*.csv")) + glob.glob(
            str(DATA / "mcsv_melody" / "*.csv")):
        with open(path, newline="") as f:
            symbols |= {r["chord"] for r in csv.DictReader(f)}
    assert len(symbols) > 350
    failures = []
    for s in sorted(symbols):
        try:
            read_chord(s)
        except ChordSymbolError:
            failures.append(s)
    assert failures == []


# ---- onsets ---------------------------------------------------------------------------

def P(division, *tatums):
    return [Fraction(t - 1, division) for t in tatums]


def test_a_swung_pair_notated_in_triplets_becomes_two_eighths():
    assert quantize_beat(P(3, 1, 3)) == [(0, "exact"), (6, "swing")]
    assert quantize_beat(P(3, 3)) == [(6, "swing")]
    assert quantize_beat(P(6, 1, 5)) == [(0, "exact"), (6, "swing")]   # 0 and 2/3 again


def test_a_swing_pattern_next_to_real_triplets_stays_a_triplet():
    assert quantize_beat(P(3, 1, 3), triplets_near=True) == [(0, "exact"), (8, "triplet")]
    # beat 0: a real triplet; beat 1: 0 and 2/3 -> triplet; beat 3: 0 and 2/3 -> swing
    notes = [(0, 1, 3), (0, 2, 3), (0, 3, 3), (1, 1, 3), (1, 3, 3), (3, 1, 3), (3, 3, 3)]
    ticks = [t for t, _ in quantize_onsets(notes)]
    assert ticks == [0, 4, 8, 12, 20, 36, 42]


def test_real_triplets_sixteenths_and_eighths_are_kept():
    assert [t for t, _ in quantize_beat(P(3, 1, 2, 3))] == [0, 4, 8]
    assert [t for t, _ in quantize_beat(P(3, 2, 3))] == [4, 8]
    assert [t for t, _ in quantize_beat(P(4, 1, 2, 3, 4))] == [0, 3, 6, 9]
    assert [t for t, _ in quantize_beat(P(4, 4))] == [9]
    assert [t for t, _ in quantize_beat(P(2, 2))] == [6]
    assert [t for t, _ in quantize_beat(P(6, 1, 4))] == [0, 6]        # eighths in sixths
    assert all(r == "exact" for _, r in quantize_beat(P(4, 1, 2, 3, 4)))


def test_sixteenth_triplets_are_exact():
    assert quantize_beat(P(6, 1, 2, 3, 4, 5, 6)) == [(t, "exact") for t in (0, 2, 4, 6, 8, 10)]
    assert quantize_beat(P(6, 6)) == [(10, "exact")]


def test_a_quintuplet_goes_to_nearby_grid_points_two_ticks_apart_or_more():
    res = quantize_beat(P(5, 1, 2, 3, 4, 5))
    assert res == [(0, "exact"), (2, "tuplet"), (4, "tuplet"), (8, "tuplet"), (10, "tuplet")]
    # no two onsets of a tuplet beat are one tick apart (no flams), whatever the division
    for d in range(5, 17):
        ticks = [t for t, _ in quantize_beat(P(d, *range(1, d + 1))) if t is not None]
        assert all(b - a >= 2 for a, b in zip(ticks, ticks[1:]))


def test_a_32nd_run_drops_notes_rather_than_pushing_them_far():
    res = quantize_beat(P(8, *range(1, 9)))
    kept = [(t, p) for (t, _), p in zip(res, P(8, *range(1, 9))) if t is not None]
    assert sum(1 for t, _ in res if t is None) >= 2            # 8 onsets, 6 points
    assert all(abs(t - p * TPQ) <= 2 for t, p in kept)
    assert [t for t, _ in kept] == sorted({t for t, _ in kept})


def test_a_late_tuplet_note_rounds_onto_the_next_beat_only_when_it_is_free():
    assert quantize_beat(P(24, 24), next_downbeat_free=True) == [(12, "tuplet")]
    assert quantize_beat(P(24, 24), next_downbeat_free=False) == [(10, "tuplet")]
    # beat 0 ends with 23/24; beat 1 is empty, so it lands on tick 12
    assert [t for t, _ in quantize_onsets([(0, 24, 24), (2, 1, 1)])] == [12, 24]
    assert [t for t, _ in quantize_onsets([(0, 24, 24), (1, 1, 1)])] == [10, 12]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 16), st.integers(1, 16)),
                max_size=40))
def test_quantized_onsets_are_on_the_grid_strictly_increasing_and_near(raw):
    """Any annotation: ticks on the grid, strictly increasing, each near its position."""
    positions = sorted({(b, Fraction(min(t, d) - 1, d)) for b, t, d in raw})
    notes = [(b, p.numerator + 1, p.denominator) for b, p in positions]
    out = quantize_onsets(notes)
    ticks = [t for t, _ in out if t is not None]
    assert ticks == sorted(set(ticks))
    assert all(t % TPQ in GRID for t in ticks)
    for (b, p), (t, rule) in zip(positions, out):
        if t is not None:
            assert abs(t - (b + p) * TPQ) <= (2 if rule in ("swing", "triplet", "exact") else 3)
            if (p * TPQ).denominator == 1 and p * TPQ in GRID and rule == "exact":
                assert t == (b + p) * TPQ


def test_rest_rule_and_note_end():
    assert rest_after(0.2, 1.0, 0.5)            # 0.8 s of silence = 1.6 beats
    assert not rest_after(0.15, 0.3, 0.5)       # staccato eighth: 0.3 beats of silence
    assert rest_after(0.25, 0.5, 0.5)           # exactly half a beat
    assert end_tick(0, 0.3, 24) == 4            # ends near the first triplet point
    assert end_tick(0, 0.01, 24) == 2           # at least one grid step after the onset
    assert end_tick(10, 0.95, 12) is None       # no room before the next onset
    assert snap(1.99) == 24 and snap(0.5) == 6


# ---- the reader on synthetic files -----------------------------------------------------

MEL_HEAD = ["onset", "duration", "period", "division", "bar", "beat", "tatum",
            "beat_duration", "signature", "pitch", "loud_max", "loud_median", "phrase_id",
            "phrase_begin", "chorus_id", "chord", "form", "idea"]
BEAT_HEAD = ["onset", "duration", "period", "division", "bar", "beat", "signature", "chord",
             "form", "chorus_id", "bass"]
BEAT_S = 0.5     # 120 bpm


def _write(path, head, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rows)


def make_solo(root, stem, performer, notes, chords, period=4, first_bar=0, first_beat=1,
              choruses=None):
    """Write one solo. notes: (bar, beat, tatum, division, pitch, sounded beats, phrase);
    chords: one symbol per beat of the beat track from (first_bar, first_beat)."""
    os.makedirs(root / "mcsv_melody", exist_ok=True)
    os.makedirs(root / "mcsv_beat", exist_ok=True)
    beats, bar, beat = [], first_bar, first_beat
    for i, sym in enumerate(chords):
        ch = choruses[i] if choruses else (0 if bar <= 0 else 1 + (bar - 1) // 2)
        beats.append([f"{i * BEAT_S:.4f}", BEAT_S, period, 1, bar, beat, f"'{period}/4'", sym,
                      "A1", ch, 40])
        beat += 1
        if beat > period:
            bar, beat = bar + 1, 1
    _write(root / "mcsv_beat" / f"{stem}_beattrack.csv", BEAT_HEAD, beats)

    def seconds(bar, beat, pos):
        i = (bar - first_bar) * period + beat - first_beat
        return (i + pos) * BEAT_S

    rows = []
    for bar, beat, tatum, div, pitch, sounded, phrase in notes:
        on = seconds(bar, beat, Fraction(tatum - 1, div))
        rows.append([f"{on:.4f}", sounded * BEAT_S, period, div, bar, beat, tatum, BEAT_S,
                     f'"{period}/4"', pitch, 0.1, 60, 1, int(phrase),
                     -1 if bar <= 0 else 1 + (bar - 1) // 2, "C7", "A1", "line"])
    _write(root / "mcsv_melody" / f"{stem}.csv", MEL_HEAD, rows)
    index = root / "solos.csv"
    new = not index.exists()
    with open(index, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["file", "performer", "title"])
        w.writerow([f"{stem}.csv", performer, stem.split("_")[1]])


# a pickup bar (bar 0), then two choruses of two bars of C7 | F7
CHORDS = ["NC"] * 4 + ["C7"] * 4 + ["F79b"] * 4 + ["C7"] * 4 + ["F79b"] * 4
NOTES = [
    (0, 4, 3, 3, 60, 0.3, True),        # pickup: a swung eighth on the "and" of 4
    (1, 1, 1, 3, 64, 0.6, False),       # swung pair on beat 1
    (1, 1, 3, 3, 67, 0.3, False),
    (1, 2, 1, 2, 70, 0.2, False),       # staccato eighths: 0.3 beats of silence, no rest
    (1, 2, 2, 2, 72, 0.2, False),
    (1, 3, 1, 1, 74, 0.5, False),       # then 1.5 beats of silence: a rest
    (2, 1, 1, 3, 65, 0.3, True),        # triplet
    (2, 1, 2, 3, 67, 0.3, False),
    (2, 1, 3, 3, 69, 0.3, False),
    (2, 2, 1, 5, 70, 0.2, False),       # a quintuplet
    (2, 2, 2, 5, 72, 0.2, False),
    (2, 2, 3, 5, 74, 0.2, False),
    (2, 2, 4, 5, 75, 0.2, False),
    (2, 2, 5, 5, 77, 0.2, False),
    (3, 1, 1, 4, 76, 0.25, True),       # sixteenths
    (3, 1, 2, 4, 74, 0.25, False),
    (3, 1, 4, 4, 72, 3.0, False),       # held to the end of bar 4
]


@pytest.fixture
def corpus(tmp_path):
    make_solo(tmp_path, "AaPlayer_Tune_FINAL", "AaPlayer", NOTES, CHORDS)
    make_solo(tmp_path, "BbPlayer_Waltz_FINAL", "BbPlayer", [(1, 1, 1, 1, 60, 1, True)],
              ["C"] * 6, period=3, first_bar=1)
    return tmp_path


def test_notes_land_on_the_grid_with_each_rule(corpus):
    solos, report = read_corpus(str(corpus))
    (solo,) = solos
    assert solo.first_bar == 0 and solo.performer == "AaPlayer" and solo.title == "Tune"
    onsets = [n.onset for n in solo.notes]
    bar1, bar2, bar3 = BAR_TICKS, 2 * BAR_TICKS, 3 * BAR_TICKS
    assert onsets == [42,                                   # pickup "and" of 4: swing 8 -> 6
                      bar1, bar1 + 6, bar1 + 12, bar1 + 18, bar1 + 24,
                      bar2, bar2 + 4, bar2 + 8,              # the triplet is kept
                      bar2 + 12, bar2 + 14, bar2 + 16, bar2 + 20, bar2 + 22,  # quintuplet
                      bar3, bar3 + 3, bar3 + 9]
    assert report.count["onsets swing"] == 2
    assert report.count["onsets tuplet"] == 4
    assert report.count["pickup notes (bar <= 0), kept before chorus 1"] == 1
    assert solo.bpm == pytest.approx(60 / BEAT_S)               # from the beat track
    assert solo_piece(solo).bpm == solo.bpm


def test_the_tempo_is_the_median_beat_of_the_beat_track():
    beats = [0.5 * i for i in range(20)] + [9.5 + 2.0, 9.5 + 5.0]   # a ritardando at the end
    assert tempo_of(beats) == pytest.approx(120.0)
    swing = np.cumsum([0.0] + [0.25, 0.27, 0.26, 0.25, 0.24, 0.25, 0.26])
    assert tempo_of(swing) == pytest.approx(60 / 0.25)
    assert tempo_of([3.0]) is None


def test_rests_only_where_the_sound_stops(corpus):
    solos, report = read_corpus(str(corpus))
    notes = solos[0].notes
    gaps = [b.onset - a.onset - a.duration for a, b in zip(notes, notes[1:])]
    # bar 1 beat 3 (half a beat of sound, 1.5 beats of silence) and the quintuplet's
    # last note (2 beats of silence) leave rests; the staccato eighths (0.3 beats of
    # silence) and everything else do not
    assert [i for i, g in enumerate(gaps) if g] == [5, 13]
    assert notes[5].duration == 6 and gaps[5] == 18     # the rest starts on the grid
    assert notes[13].duration == 2 and gaps[13] == 24
    assert notes[3].duration == 6 and notes[0].duration == 6
    assert report.count["rests"] == 2
    assert report.count["rests inside annotated phrases"] == 0
    assert report.count["annotated phrase starts after a rest"] == 2
    # the last note sounds 3 beats
    assert notes[-1].duration == 3 * TPQ
    values = parse_melody([(n.onset, n.duration, n.pitch) for n in notes], solos[0].timeline,
                          BAR_TICKS, min_rest=1)
    # parse_melody with min_rest=1 makes exactly these silences (plus the space before
    # the pickup and after the last note) into rests
    silent = sorted((a.onset + a.duration, b.onset) for a, b in zip(notes, notes[1:])
                    if b.onset > a.onset + a.duration)
    t, got = 0, []
    for v in values:
        if v.kind == "R":
            got.append((t, t + v.ticks))
        t += v.ticks
    merged = []
    for a, b in got:
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    assert merged[1:-1] == silent


def test_choruses_and_their_charts(corpus):
    (solo,), _ = read_corpus(str(corpus))
    assert [(c.id, c.start, c.end, c.bars) for c in solo.choruses] == [
        (1, BAR_TICKS, 3 * BAR_TICKS, 2), (2, 3 * BAR_TICKS, 5 * BAR_TICKS, 2)]
    chart = solo.chorus_chart(solo.choruses[0])
    assert chart.symbols == [["C7"], ["F7b9"]]
    again = parse_chart(str(chart))
    assert again.bars == chart.bars
    inside = solo.chorus_notes(solo.choruses[1])
    assert inside[0].onset == 0 and inside[-1].onset + inside[-1].duration <= 2 * BAR_TICKS
    assert solo.timeline.at(0) is NO_CHORD and solo.timeline.at(BAR_TICKS) == parse_symbol("C7")
    assert [n.phrase_begin for n in solo.notes].count(True) == 3


def test_a_non_4_4_solo_is_skipped_with_its_signature(corpus):
    _, report = read_corpus(str(corpus))
    assert report.skipped == [("BbPlayer_Waltz_FINAL", "not 4/4: 3/4")]
    assert "skipped, not 4/4: 1" in format_report([], report)


def test_a_bad_file_is_skipped_naming_the_file_and_line(corpus):
    path = corpus / "mcsv_melody" / "AaPlayer_Tune_FINAL.csv"
    text = path.read_text().splitlines()
    text[3] = text[3].replace(",67,", ",sixty-seven,")
    path.write_text("\n".join(text) + "\n")
    solos, report = read_corpus(str(corpus))
    assert solos == []
    assert ("AaPlayer_Tune_FINAL", "AaPlayer_Tune_FINAL.csv line 4: bad pitch 'sixty-seven'") \
        in report.skipped


def test_a_missing_beat_track_is_reported(corpus):
    os.remove(corpus / "mcsv_beat" / "AaPlayer_Tune_FINAL_beattrack.csv")
    _, report = read_corpus(str(corpus))
    assert report.skipped[0][0] == "AaPlayer_Tune_FINAL"
    assert "missing file" in report.skipped[0][1]


def test_an_unreadable_chord_sounds_as_no_chord_and_is_counted(tmp_path):
    make_solo(tmp_path, "CcPlayer_X_FINAL", "CcPlayer", NOTES[1:6], ["C7"] * 4 + ["Q7"] * 4,
              first_bar=1)
    (solo,), report = read_corpus(str(tmp_path))
    assert solo.beat_chords[4] is NO_CHORD
    assert report.bad_chord_beats == {"Q7": 4}
    assert "unreadable 1 (4 beats" in format_report([solo], report)


def test_no_database_is_a_clear_error(tmp_path):
    with pytest.raises(WjazzdError, match="not a directory"):
        read_corpus(str(tmp_path / "nowhere"))
    with pytest.raises(WjazzdError, match="solos.csv"):
        read_corpus(str(tmp_path))


# ---- the performer split ----------------------------------------------------------------

class _S:
    def __init__(self, performer):
        self.performer = performer


def test_split_by_performer_is_deterministic_and_disjoint():
    solos = [_S(f"P{i:02d}") for i in range(40) for _ in range(1 + i % 4)]
    train, test, held = split_performers(solos, n_holdout=6, seed=3)
    again = split_performers(list(reversed(solos)), n_holdout=6, seed=3)[2]
    assert held == again and len(held) == 6
    assert not {s.performer for s in train} & {s.performer for s in test}
    assert {s.performer for s in test} == set(held)
    assert len(test) <= 0.15 * len(solos)
    assert split_performers(solos, n_holdout=6, seed=4)[2] != held


# ---- the real database --------------------------------------------------------------------

REAL = ["CharlieParker_Ornithology_FINAL", "JohnColtrane_Impressions_1963_FINAL",
        "ArtPepper_Anthropology_FINAL", "BobBerg_BluesForBela_FINAL"]


@needs_data
def test_real_solos_keep_the_grammar_invariants():
    names = [n for n in REAL if (DATA / "mcsv_melody" / f"{n}.csv").is_file()]
    solos, report = read_corpus(str(DATA), names=names)
    assert len(solos) == len(names) >= 3 and not report.skipped
    for solo in solos:
        notes = solo.notes
        assert all(n.duration > 0 for n in notes)
        assert all(a.onset + a.duration <= b.onset for a, b in zip(notes, notes[1:]))
        assert all(n.onset % TPQ in GRID for n in notes)
        assert 40 < solo.bpm < 400
        for ch in solo.choruses:
            assert ch.start % BAR_TICKS == 0 and ch.bars >= 1
            chart = solo.chorus_chart(ch)
            assert parse_chart(str(chart)).bars == chart.bars
    c = report.count
    assert c["onsets swing"] + c["onsets exact"] > 0.8 * c["notes read"]
    assert c["annotated phrase starts after a rest"] > 0.9 * c[
        "annotated phrase starts (after the first note)"]


@needs_data
def test_the_real_held_out_split_is_12_players_and_10_to_15_percent():
    solos = index_entries(str(DATA))
    train, test, held = split_performers(solos, n_holdout=12, seed=0)
    assert len(held) == 12
    assert 0.10 <= len(test) / len(solos) <= 0.15
